"""Break-the-glass (42 CFR 2.51) over a real socket, real tokens, real PostgreSQL and Kafka:
a clinician of the recipient clinic gets the whole referral without consent, recorded at
once (recipient, facility, who disclosed, when, the nature sealed at rest), logged in the
member's accounting (ETREAT), audited flagged for review and announced with ids only; the
program's coordinators list and review it; everyone else is refused and nothing changes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest

from peerbridge.referrals.v1 import referrals_emergency_pb2 as emergency_pb2
from peerbridge.referrals.v1 import referrals_emergency_pb2_grpc as emergency_grpc
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import Principal, Role, TokenVerifier
from peerbridge_platform.envelope import decode
from peerbridge_platform.grpc import (
    GrpcServer,
    create_channel,
    field_violations,
    start_server,
    wait_for_serving,
)
from peerbridge_referrals.adapters.audit_trail import SERVICE
from peerbridge_referrals.adapters.outbox_writer import write_to_outbox
from peerbridge_referrals.adapters.reason_cipher import ReasonCipher
from peerbridge_referrals.bootstrap import bootstrap, postgres_denials, postgres_units_of_work
from peerbridge_referrals.entrypoints.app import ReferralsProcess
from peerbridge_referrals.entrypoints.emergency_grpc import (
    EMERGENCY_SERVICE_NAME,
    emergency_registration,
)
from peerbridge_referrals.entrypoints.grpc_server import referrals_registration
from peerbridge_referrals.entrypoints.interceptors import referrals_interceptors
from peerbridge_referrals.service_layer.pagination import PageLimits

from ..conftest import CLINIC, PROGRAM, synthetic_principal
from ..consent_builders import MEMBER
from .conftest import (
    AUDIENCE,
    ISSUER,
    read_topic,
    token_for,
    trusted_keys,
)
from .test_crisis import Crisis
from .test_grpc_referrals import refused, synthetic_request

pytestmark = pytest.mark.integration

EVENTS_TOPIC = "peerbridge.referrals.events.v1"
PATIENCE_S = 60.0
NATURE = "Synthetic: unresponsive on arrival, suspected opioid overdose."
FACILITY = "Northside Emergency Department (test)"

CLINICIAN = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
OTHER_CLINICIAN = synthetic_principal("clinician-test-2", (Role.CLINICIAN,), "clinic-other-test")
CLINIC_COORDINATOR = synthetic_principal("coordinator-test-4", (Role.COORDINATOR,), CLINIC)
COORDINATOR = synthetic_principal()
SUPERVISOR = synthetic_principal("supervisor-test-1", (Role.SUPERVISOR,))
OTHER_PROGRAM = synthetic_principal("coordinator-test-9", organization_id="program-other-test")
NO_SCOPE = synthetic_principal(
    "clinician-test-3", (Role.CLINICIAN,), CLINIC, frozenset({"referrals.read"})
)


class Emergency(Crisis):
    """Stubs of the emergency and referrals services, as each caller."""

    def as_(self, principal: Principal) -> Any:
        return emergency_grpc.EmergencyAccessServiceStub(self._channel(principal))

    async def refer(self) -> str:
        created = await self.referrals_as(COORDINATOR).CreateReferral(synthetic_request())
        return str(created.referral.referral_id)

    async def counts(self) -> tuple[int, int, int]:
        return (
            await self.pool.fetchval("SELECT count(*) FROM emergency_disclosures"),
            await self.pool.fetchval("SELECT count(*) FROM disclosure_log"),
            await self.pool.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", EVENTS_TOPIC),
        )

    async def audits(self, action: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT outcome, purpose_of_use, reason, resource_id, actor_subject_id"
            " FROM audit_log WHERE action = $1 ORDER BY id",
            action,
        )
        return [dict(r) for r in rows]


@contextlib.asynccontextmanager
async def serving(pool: asyncpg.Pool, cipher: ReasonCipher) -> AsyncIterator[Emergency]:
    application = bootstrap(
        postgres_units_of_work(pool, cipher, write_to_outbox),
        postgres_denials(pool),
        page_limits=PageLimits(default_size=2, max_size=5),
    )
    server: GrpcServer = await start_server(
        "127.0.0.1:0",
        [referrals_registration(application), emergency_registration(application)],
        interceptors=referrals_interceptors(
            TokenVerifier(ISSUER, AUDIENCE, trusted_keys()), Auditor(SERVICE, pool=pool)
        ),
    )
    emergency = Emergency(server.address, pool)
    try:
        await server.set_serving()
        yield emergency
    finally:
        await emergency.close()
        await server.stop(grace=1.0)


@pytest.fixture
async def emergency(pool: asyncpg.Pool, cipher: ReasonCipher) -> AsyncIterator[Emergency]:
    async with serving(pool, cipher) as running:
        yield running


def ask(referral_id: str, **changes: Any) -> emergency_pb2.DiscloseForEmergencyRequest:
    fields: dict[str, Any] = {
        "referral_id": referral_id,
        "nature_of_emergency": NATURE,
        "recipient_facility": FACILITY,
        "request_id": str(uuid.uuid4()),
    }
    fields.update(changes)
    return emergency_pb2.DiscloseForEmergencyRequest(**fields)


async def test_a_clinician_of_the_recipient_breaks_the_glass_and_it_is_recorded_at_once(
    emergency: Emergency,
) -> None:
    referral_id = await emergency.refer()  # no consent at all

    answer = await emergency.as_(CLINICIAN).DiscloseForEmergency(ask(referral_id))

    assert answer.referral.reason == synthetic_request().reason
    assert answer.referral.subject_member_id == MEMBER
    record = answer.emergency_disclosure
    assert (record.recipient_person_id, record.recipient_organization_id) == (
        CLINICIAN.subject,
        CLINIC,
    )
    assert (record.recipient_facility, record.disclosing_organization_id) == (FACILITY, PROGRAM)
    assert record.nature_of_emergency == NATURE
    assert record.disclosed_at.seconds > 0
    assert not record.reviewed
    row = await emergency.pool.fetchrow("SELECT * FROM emergency_disclosures")
    assert NATURE.encode() not in bytes(row["nature_ciphertext"])  # sealed at rest
    log = await emergency.pool.fetchrow("SELECT * FROM disclosure_log")
    assert (log["channel"], log["purpose"], log["consent_id"]) == ("emergency", "ETREAT", None)
    assert log["recipient_organization_id"] == CLINIC
    [audit] = await emergency.audits("referral.emergency_disclose")
    assert (audit["outcome"], audit["purpose_of_use"]) == ("allowed", "ETREAT")
    assert audit["reason"].startswith("flagged for review")
    assert audit["actor_subject_id"] == CLINICIAN.subject


async def test_the_member_sees_it_in_the_accounting_of_disclosures(
    emergency: Emergency,
) -> None:
    referral_id = await emergency.refer()
    await emergency.as_(CLINICIAN).DiscloseForEmergency(ask(referral_id))

    member = synthetic_principal(MEMBER, (Role.MEMBER,), None)
    listing = service_pb2.ListDisclosuresRequest(subject_member_id=MEMBER)
    [entry] = (await emergency.referrals_as(member).ListDisclosures(listing)).disclosures

    assert (entry.purpose, entry.consent_id, entry.referral_id) == ("ETREAT", "", referral_id)
    assert "medical emergency" in entry.description


async def test_a_repeated_request_id_answers_the_same_and_records_once(
    emergency: Emergency,
) -> None:
    referral_id = await emergency.refer()
    request = ask(referral_id)
    first = await emergency.as_(CLINICIAN).DiscloseForEmergency(request)
    again = await emergency.as_(CLINICIAN).DiscloseForEmergency(request)

    assert again.emergency_disclosure == first.emergency_disclosure
    assert (await emergency.counts())[0] == 1
    other = ask(referral_id, request_id=request.request_id, nature_of_emergency="Other")
    error = await refused(emergency.as_(CLINICIAN).DiscloseForEmergency(other))
    assert error.code() is grpc.StatusCode.ABORTED


REFUSALS = [
    ("a clinician elsewhere", OTHER_CLINICIAN, grpc.StatusCode.NOT_FOUND),
    ("a coordinator of the clinic", CLINIC_COORDINATOR, grpc.StatusCode.PERMISSION_DENIED),
    ("the program's coordinator", COORDINATOR, grpc.StatusCode.PERMISSION_DENIED),
    ("a clinician without the scope", NO_SCOPE, grpc.StatusCode.PERMISSION_DENIED),
]


@pytest.mark.parametrize(
    ("caller", "code"), [(c, k) for _, c, k in REFUSALS], ids=[n for n, _, _ in REFUSALS]
)
async def test_anyone_else_is_refused_audited_and_nothing_changes(
    emergency: Emergency, caller: Principal, code: grpc.StatusCode
) -> None:
    referral_id = await emergency.refer()
    before = await emergency.counts()

    error = await refused(emergency.as_(caller).DiscloseForEmergency(ask(referral_id)))

    assert error.code() is code
    assert await emergency.counts() == before
    [audit] = await emergency.audits("referral.emergency_disclose")
    assert audit["outcome"] == "denied"


async def test_a_missing_referral_is_not_found(emergency: Emergency) -> None:
    error = await refused(emergency.as_(CLINICIAN).DiscloseForEmergency(ask(str(uuid.uuid4()))))
    assert error.code() is grpc.StatusCode.NOT_FOUND


async def test_the_nature_of_the_emergency_is_required(emergency: Emergency) -> None:
    await emergency.refer()
    before = await emergency.counts()

    request = ask("not-a-uuid", nature_of_emergency="  ")
    error = await refused(emergency.as_(CLINICIAN).DiscloseForEmergency(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in field_violations(error)} == {"nature_of_emergency", "referral_id"}
    assert await emergency.counts() == before


async def test_the_program_lists_and_reviews_its_emergency_disclosures(
    emergency: Emergency,
) -> None:
    made = []
    for _ in range(3):
        referral_id = await emergency.refer()
        answer = await emergency.as_(CLINICIAN).DiscloseForEmergency(ask(referral_id))
        made.append(answer.emergency_disclosure.emergency_disclosure_id)

    listing = emergency_pb2.ListEmergencyDisclosuresRequest(organization_id=PROGRAM)
    first = await emergency.as_(SUPERVISOR).ListEmergencyDisclosures(listing)
    assert len(first.emergency_disclosures) == 2  # the page size
    listing.page_token = first.next_page_token
    second = await emergency.as_(SUPERVISOR).ListEmergencyDisclosures(listing)
    listed = [
        r.emergency_disclosure_id
        for r in [*first.emergency_disclosures, *second.emergency_disclosures]
    ]
    assert listed == list(reversed(made))

    review = emergency_pb2.ReviewEmergencyDisclosureRequest(
        emergency_disclosure_id=made[0], review_note="Synthetic: confirmed bona fide emergency."
    )
    reviewed = (
        await emergency.as_(COORDINATOR).ReviewEmergencyDisclosure(review)
    ).emergency_disclosure
    assert reviewed.reviewed
    assert (reviewed.reviewed_by, reviewed.review_note) == (
        COORDINATOR.subject,
        "Synthetic: confirmed bona fide emergency.",
    )
    assert reviewed.review_time.seconds > 0

    unreviewed = emergency_pb2.ListEmergencyDisclosuresRequest(
        organization_id=PROGRAM, unreviewed_only=True, page_size=5
    )
    page = await emergency.as_(COORDINATOR).ListEmergencyDisclosures(unreviewed)
    assert [r.emergency_disclosure_id for r in page.emergency_disclosures] == list(
        reversed(made[1:])
    )

    again = await refused(emergency.as_(COORDINATOR).ReviewEmergencyDisclosure(review))
    assert again.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_others_list_nothing_and_may_not_review(emergency: Emergency) -> None:
    referral_id = await emergency.refer()
    answer = await emergency.as_(CLINICIAN).DiscloseForEmergency(ask(referral_id))
    record_id = answer.emergency_disclosure.emergency_disclosure_id

    for caller in (OTHER_PROGRAM, CLINICIAN):
        listing = emergency_pb2.ListEmergencyDisclosuresRequest(organization_id=PROGRAM)
        page = await emergency.as_(caller).ListEmergencyDisclosures(listing)
        assert list(page.emergency_disclosures) == []
    review = emergency_pb2.ReviewEmergencyDisclosureRequest(
        emergency_disclosure_id=record_id, review_note="Synthetic note"
    )
    error = await refused(emergency.as_(OTHER_PROGRAM).ReviewEmergencyDisclosure(review))
    assert error.code() is grpc.StatusCode.NOT_FOUND
    denied = [a["outcome"] for a in await emergency.audits("emergency_disclosure.list")]
    assert denied == ["denied", "denied"]
    empty = emergency_pb2.ReviewEmergencyDisclosureRequest(emergency_disclosure_id=record_id)
    error = await refused(emergency.as_(COORDINATOR).ReviewEmergencyDisclosure(empty))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    row = await emergency.pool.fetchrow("SELECT review_time FROM emergency_disclosures")
    assert row["review_time"] is None


async def test_the_event_reaches_kafka_with_ids_only(
    running: ReferralsProcess, kafka_bootstrap: str
) -> None:
    assert running.server is not None
    address = running.server.address
    await wait_for_serving(address, EMERGENCY_SERVICE_NAME, timeout_s=PATIENCE_S)
    async with create_channel(address, default_timeout_s=10) as channel:
        referrals: Any = service_grpc.ReferralsServiceStub(channel)
        created = await referrals.CreateReferral(
            synthetic_request(), metadata=(("authorization", f"Bearer {token_for(COORDINATOR)}"),)
        )
        referral_id = created.referral.referral_id
        stub: Any = emergency_grpc.EmergencyAccessServiceStub(channel)
        answer = await stub.DiscloseForEmergency(
            ask(referral_id), metadata=(("authorization", f"Bearer {token_for(CLINICIAN)}"),)
        )

    def made(found: list[Any]) -> bool:
        return any(b"EmergencyDisclosureMade" in str(r.headers()).encode() for r in found)

    records = await asyncio.to_thread(
        read_topic, kafka_bootstrap, EVENTS_TOPIC, referral_id, made, PATIENCE_S
    )
    events = [decode(r.headers(), r.key(), r.value()) for r in records]
    [event] = [e for e in events if e.type == "peerbridge.referrals.v1.EmergencyDisclosureMade"]
    message = emergency_pb2.EmergencyDisclosureMade.FromString(event.data)
    assert message.emergency_disclosure_id == answer.emergency_disclosure.emergency_disclosure_id
    assert (message.recipient_organization_id, message.disclosing_organization_id) == (
        CLINIC,
        PROGRAM,
    )
    assert NATURE.encode() not in event.data
    assert FACILITY.encode() not in event.data
