"""Crisis escalation over a real socket with real signed tokens on real PostgreSQL, and its
events as our services read them from real Kafka: each route, and a flag never dropped."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import pytest
from asyncpg.pool import PoolConnectionProxy

from peerbridge.referrals.v1 import referrals_crisis_pb2 as crisis_pb2
from peerbridge.referrals.v1 import referrals_crisis_pb2_grpc as crisis_grpc
from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge.sessions.v1 import sessions_events_pb2 as sessions_pb2
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import Principal, Role, TokenVerifier
from peerbridge_platform.envelope import decode
from peerbridge_platform.grpc import GrpcServer, create_channel, start_server
from peerbridge_referrals.adapters.audit_trail import SERVICE
from peerbridge_referrals.adapters.outbox_writer import write_to_outbox
from peerbridge_referrals.adapters.postgres_unit_of_work import EventWriter
from peerbridge_referrals.adapters.reason_cipher import ReasonCipher
from peerbridge_referrals.bootstrap import bootstrap, postgres_denials, postgres_units_of_work
from peerbridge_referrals.domain.crisis import RiskFlagEscalated
from peerbridge_referrals.domain.events import DomainEvent
from peerbridge_referrals.entrypoints.app import ReferralsProcess
from peerbridge_referrals.entrypoints.crisis_grpc import crisis_registration
from peerbridge_referrals.entrypoints.grpc_server import referrals_registration
from peerbridge_referrals.entrypoints.interceptors import referrals_interceptors

from ..conftest import CLINIC, PROGRAM, synthetic_principal
from ..consent_builders import MEMBER
from .conftest import (
    AUDIENCE,
    CALL_TIMEOUT_S,
    ISSUER,
    _BearerToken,
    read_topic,
    token_for,
    trusted_keys,
)
from .test_consents import terms
from .test_grpc_referrals import refused

pytestmark = pytest.mark.integration

EVENTS_TOPIC = "peerbridge.referrals.events.v1"
FHIR_TOPIC = "peerbridge.referrals.fhir.v1"

THE_MEMBER = synthetic_principal(MEMBER, (Role.MEMBER,), PROGRAM)
SUPPORTER = synthetic_principal("supporter-test-7", (Role.PEER_SUPPORTER,))
COORDINATOR = synthetic_principal()
SUPERVISOR = synthetic_principal("supervisor-test-1", (Role.SUPERVISOR,))
OTHER_PROGRAM = synthetic_principal("coordinator-test-9", organization_id="program-other-test")


class Crisis:
    """Stubs of the crisis and referrals services, as each caller."""

    def __init__(self, address: str, pool: asyncpg.Pool) -> None:
        self.address = address
        self.pool = pool
        self._channels: list[grpc.aio.Channel] = []

    def _channel(self, principal: Principal) -> grpc.aio.Channel:
        channel = create_channel(
            self.address,
            default_timeout_s=CALL_TIMEOUT_S,
            interceptors=[_BearerToken(token_for(principal))],
        )
        self._channels.append(channel)
        return channel

    def as_(self, principal: Principal) -> Any:
        return crisis_grpc.CrisisServiceStub(self._channel(principal))

    def referrals_as(self, principal: Principal) -> Any:
        return service_grpc.ReferralsServiceStub(self._channel(principal))

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


@contextlib.asynccontextmanager
async def serving(
    pool: asyncpg.Pool, cipher: ReasonCipher, write_events: EventWriter = write_to_outbox
) -> AsyncIterator[Crisis]:
    application = bootstrap(
        postgres_units_of_work(pool, cipher, write_events), postgres_denials(pool)
    )
    server: GrpcServer = await start_server(
        "127.0.0.1:0",
        [referrals_registration(application), crisis_registration(application)],
        interceptors=referrals_interceptors(
            TokenVerifier(ISSUER, AUDIENCE, trusted_keys()), Auditor(SERVICE, pool=pool)
        ),
    )
    crisis = Crisis(server.address, pool)
    try:
        await server.set_serving()
        yield crisis
    finally:
        await crisis.close()
        await server.stop(grace=1.0)


@pytest.fixture
async def crisis(pool: asyncpg.Pool, cipher: ReasonCipher) -> AsyncIterator[Crisis]:
    async with serving(pool, cipher) as running:
        yield running


def flag_request(request_id: str = "", **changes: Any) -> crisis_pb2.RaiseRiskFlagRequest:
    fields: dict[str, Any] = {
        "request_id": request_id,
        "member_id": MEMBER,
        "program_id": PROGRAM,
        "level": sessions_pb2.RISK_LEVEL_IMMINENT,
        "kind": sessions_pb2.RISK_KIND_SELF_HARM,
        "source": sessions_pb2.RISK_FLAG_SOURCE_PEER_SUPPORTER,
    }
    fields.update(changes)
    return crisis_pb2.RaiseRiskFlagRequest(**fields)


async def name_clinic(crisis: Crisis) -> None:
    await crisis.as_(THE_MEMBER).SetClinicalContact(
        crisis_pb2.SetClinicalContactRequest(
            member_id=MEMBER,
            program_id=PROGRAM,
            organization_id=CLINIC,
            display_name="Northside Health Clinic (test)",
        )
    )


async def consent_to_clinic(crisis: Crisis) -> None:
    await crisis.referrals_as(THE_MEMBER).RecordConsent(
        service_pb2.RecordConsentRequest(terms=terms())
    )


async def put_on_call(crisis: Crisis, supervisor: str = SUPERVISOR.subject) -> None:
    now = datetime.now(UTC)
    request = crisis_pb2.SetOnCallSupervisorRequest(program_id=PROGRAM, supervisor_id=supervisor)
    request.start_time.FromDatetime(now - timedelta(minutes=5))
    request.end_time.FromDatetime(now + timedelta(hours=8))
    await crisis.as_(COORDINATOR).SetOnCallSupervisor(request)


async def count(crisis: Crisis, table: str) -> int:
    found: int = await crisis.pool.fetchval(f"SELECT count(*) FROM {table}")
    return found


def assert_guidance(response: Any) -> None:
    guidance = response.guidance
    assert (guidance.call_number, guidance.text_number, guidance.emergency_number) == (
        "988",
        "988",
        "911",
    )
    assert "988lifeline.org" in guidance.chat_url


async def test_a_consented_clinical_contact_gets_a_stat_crisis_referral(crisis: Crisis) -> None:
    await name_clinic(crisis)
    await consent_to_clinic(crisis)
    await put_on_call(crisis)  # a clinic under consent comes first
    response = await crisis.as_(SUPPORTER).RaiseRiskFlag(flag_request())
    flag = response.flag
    assert flag.route == crisis_pb2.RISK_FLAG_ROUTE_CLINICAL_CONTACT
    assert flag.clinic_organization_id == CLINIC
    assert flag.status == crisis_pb2.RISK_FLAG_STATUS_UNHANDLED
    assert_guidance(response)
    referral = (
        await crisis.referrals_as(COORDINATOR).GetReferral(
            service_pb2.GetReferralRequest(referral_id=flag.referral_id)
        )
    ).referral
    assert referral.priority == resources_pb2.REFERRAL_PRIORITY_STAT
    assert referral.category == resources_pb2.REFERRAL_CATEGORY_CRISIS_CARE
    assert referral.recipient.organization_id == CLINIC
    # The crisis referral took the path of every referral: logged as a disclosure.
    logged = await crisis.pool.fetchval(
        "SELECT count(*) FROM disclosure_log WHERE referral_id = $1", uuid.UUID(flag.referral_id)
    )
    assert logged == 1


async def test_without_consent_the_on_call_supervisor_is_assigned_and_nothing_leaves(
    crisis: Crisis,
) -> None:
    await name_clinic(crisis)
    await put_on_call(crisis)
    response = await crisis.as_(THE_MEMBER).RaiseRiskFlag(
        flag_request(source=sessions_pb2.RISK_FLAG_SOURCE_CHECK_IN)
    )
    assert response.flag.route == crisis_pb2.RISK_FLAG_ROUTE_ON_CALL_SUPERVISOR
    assert response.flag.assigned_supervisor_id == SUPERVISOR.subject
    assert response.flag.referral_id == ""
    assert_guidance(response)
    assert await count(crisis, "referrals") == 0


async def test_with_no_route_coordinators_see_it_unhandled_until_acknowledged(
    crisis: Crisis,
) -> None:
    response = await crisis.as_(SUPPORTER).RaiseRiskFlag(flag_request("flag-1"))
    flag = response.flag
    assert flag.route == crisis_pb2.RISK_FLAG_ROUTE_COORDINATORS
    assert_guidance(response)
    listing = crisis_pb2.ListRiskFlagsRequest(program_id=PROGRAM, unhandled_only=True)
    unhandled = await crisis.as_(COORDINATOR).ListRiskFlags(listing)
    assert [f.flag_id for f in unhandled.flags] == [flag.flag_id]
    # Another program learns nothing, and cannot acknowledge it.
    assert list((await crisis.as_(OTHER_PROGRAM).ListRiskFlags(listing)).flags) == []
    error = await refused(
        crisis.as_(OTHER_PROGRAM).AcknowledgeRiskFlag(
            crisis_pb2.AcknowledgeRiskFlagRequest(flag_id=flag.flag_id)
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    handled = (
        await crisis.as_(SUPERVISOR).AcknowledgeRiskFlag(
            crisis_pb2.AcknowledgeRiskFlagRequest(flag_id=flag.flag_id)
        )
    ).flag
    assert handled.status == crisis_pb2.RISK_FLAG_STATUS_ACKNOWLEDGED
    assert handled.acknowledged_by == SUPERVISOR.subject
    assert list((await crisis.as_(COORDINATOR).ListRiskFlags(listing)).flags) == []
    actions = [
        r["action"]
        for r in await crisis.pool.fetch("SELECT action, outcome FROM audit_log ORDER BY id")
    ]
    assert "risk_flag.raise" in actions
    assert "risk_flag.acknowledge" in actions


async def test_a_repeated_raise_returns_the_first_flag(crisis: Crisis) -> None:
    stub = crisis.as_(SUPPORTER)
    first = (await stub.RaiseRiskFlag(flag_request("flag-2"))).flag
    again = (await stub.RaiseRiskFlag(flag_request("flag-2"))).flag
    assert again == first
    assert await count(crisis, "risk_flags") == 1


async def test_bad_input_names_each_field_and_changes_nothing(crisis: Crisis) -> None:
    error = await refused(
        crisis.as_(SUPPORTER).RaiseRiskFlag(
            flag_request(member_id="", level=sessions_pb2.RISK_LEVEL_UNSPECIFIED)
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await count(crisis, "risk_flags") == 0


async def test_another_member_may_not_raise_about_the_member(crisis: Crisis) -> None:
    other = synthetic_principal("member-synthetic-002", (Role.MEMBER,), PROGRAM)
    error = await refused(crisis.as_(other).RaiseRiskFlag(flag_request()))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await count(crisis, "risk_flags") == 0


async def test_a_flag_is_never_half_written(pool: asyncpg.Pool, cipher: ReasonCipher) -> None:
    """When its events cannot be enqueued, neither the flag nor its crisis referral stays; the
    caller hears of it and a retry with the same request id escalates it once."""

    async def failing(connection: PoolConnectionProxy, event: DomainEvent) -> None:
        await write_to_outbox(connection, event)
        if isinstance(event, RiskFlagEscalated):
            raise RuntimeError("outbox unavailable (test)")

    async with serving(pool, cipher, failing) as broken:
        await name_clinic(broken)
        await consent_to_clinic(broken)
        error = await refused(broken.as_(SUPPORTER).RaiseRiskFlag(flag_request("flag-3")))
        assert error.code() != grpc.StatusCode.OK
        assert await count(broken, "risk_flags") == 0
        assert await count(broken, "referrals") == 0
    async with serving(pool, cipher) as healthy:
        flag = (await healthy.as_(SUPPORTER).RaiseRiskFlag(flag_request("flag-3"))).flag
        assert flag.route == crisis_pb2.RISK_FLAG_ROUTE_CLINICAL_CONTACT
        assert await count(healthy, "risk_flags") == 1
        assert await count(healthy, "referrals") == 1


async def test_the_process_publishes_the_escalation_and_the_fhir_view(
    running: ReferralsProcess, kafka_bootstrap: str
) -> None:
    assert running.server is not None
    crisis = Crisis(running.server.address, None)  # type: ignore[arg-type]
    try:
        await name_clinic(crisis)
        await consent_to_clinic(crisis)
        flag = (await crisis.as_(SUPPORTER).RaiseRiskFlag(flag_request())).flag
    finally:
        await crisis.close()
    records = await asyncio.to_thread(
        read_topic, kafka_bootstrap, EVENTS_TOPIC, flag.flag_id, lambda found: len(found) >= 1
    )
    envelope = decode(records[0].headers(), records[0].key(), records[0].value())
    assert envelope.type == "peerbridge.referrals.v1.RiskFlagEscalated"
    escalated = crisis_pb2.RiskFlagEscalated.FromString(envelope.data)
    assert escalated.route == crisis_pb2.RISK_FLAG_ROUTE_CLINICAL_CONTACT
    assert escalated.referral_id == flag.referral_id
    assert escalated.member_id == MEMBER
    views = await asyncio.to_thread(
        read_topic, kafka_bootstrap, FHIR_TOPIC, flag.referral_id, lambda found: len(found) >= 1
    )
    assert views
