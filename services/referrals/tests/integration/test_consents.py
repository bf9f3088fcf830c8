"""Consents over a real socket with real signed tokens on real PostgreSQL, and their events
as our services read them from real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from peerbridge.referrals.v1 import referrals_consent_pb2 as consent_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.auth import Principal, Role
from peerbridge_platform.envelope import decode
from peerbridge_platform.grpc import create_channel, field_violations, wait_for_serving
from peerbridge_referrals.entrypoints.app import ReferralsProcess
from peerbridge_referrals.entrypoints.grpc_server import SERVICE_NAME

from ..conftest import CLINIC, PROGRAM, synthetic_principal
from ..consent_builders import MEMBER, REVOCATION_INSTRUCTIONS
from .conftest import RunningService, read_topic, token_for
from .test_access import audit_rows
from .test_grpc_referrals import refused

pytestmark = pytest.mark.integration

EVENTS_TOPIC = "peerbridge.referrals.events.v1"
PATIENCE_S = 60.0

THE_MEMBER = synthetic_principal(MEMBER, (Role.MEMBER,), None)
COORDINATOR = synthetic_principal()
SUPPORTER = synthetic_principal("supporter-test-7", (Role.PEER_SUPPORTER,))
CLINICIAN = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
OTHER_CLINICIAN = synthetic_principal("clinician-test-2", (Role.CLINICIAN,), "clinic-other-test")
OTHER_MEMBER = synthetic_principal("member-synthetic-002", (Role.MEMBER,), None)
OTHER_PROGRAM = synthetic_principal("coordinator-test-9", organization_id="program-other-test")
ADMIN = synthetic_principal("admin-test-1", (Role.ADMIN,), None)


def stamp(moment: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(moment)
    return result


def terms(**changes: Any) -> consent_pb2.ConsentTerms:
    """The synthetic member lets the program disclose referral details to the clinic for
    treatment, for a year."""
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "subject_member_id": MEMBER,
        "disclosing_organization_id": PROGRAM,
        "categories": [consent_pb2.CONSENT_INFORMATION_CATEGORY_REFERRAL_DETAILS],
        "recipient_organization_ids": [CLINIC],
        "purposes": [consent_pb2.CONSENT_PURPOSE_TREAT],
        "revocation_instructions": REVOCATION_INSTRUCTIONS,
        "valid_from": stamp(now - timedelta(minutes=5)),
        "expires_at": stamp(now + timedelta(days=365)),
        "capture_method": consent_pb2.CONSENT_CAPTURE_METHOD_SIGNED_ELECTRONICALLY,
        "signed_at": stamp(now - timedelta(minutes=5)),
    }
    fields.update(changes)
    return consent_pb2.ConsentTerms(**fields)


def as_(service: RunningService, principal: Principal) -> Any:
    return service.stub_as(token_for(principal))


async def record(
    stub: Any, request_id: str = "", given: consent_pb2.ConsentTerms | None = None
) -> Any:
    request = service_pb2.RecordConsentRequest(request_id=request_id, terms=given or terms())
    return (await stub.RecordConsent(request)).consent


async def test_the_member_records_reads_and_revokes_their_consent(service: RunningService) -> None:
    member = as_(service, THE_MEMBER)
    given = terms()
    consent = await record(member, "req-1", given)
    assert consent.status == consent_pb2.CONSENT_STATUS_ACTIVE
    assert consent.recorded_by == MEMBER
    assert consent.terms == given
    again = await record(member, "req-1", given)
    assert again == consent

    got = await member.GetConsent(service_pb2.GetConsentRequest(consent_id=consent.consent_id))
    assert got.consent == consent

    revoked = (
        await member.RevokeConsent(
            service_pb2.RevokeConsentRequest(consent_id=consent.consent_id, reason="Moved away")
        )
    ).consent
    assert revoked.status == consent_pb2.CONSENT_STATUS_REVOKED
    assert revoked.revoked_by == MEMBER
    assert revoked.revocation_reason == "Moved away"
    assert revoked.HasField("revoke_time")
    twice = await as_(service, COORDINATOR).RevokeConsent(
        service_pb2.RevokeConsentRequest(consent_id=consent.consent_id)
    )
    assert twice.consent == revoked

    assert await service.count("consents") == 1
    actions = [(r["action"], r["outcome"]) for r in await audit_rows(service)]
    assert actions == [
        ("consent.record", "allowed"),
        ("consent.record", "allowed"),
        ("consent.read", "allowed"),
        ("consent.revoke", "allowed"),
        ("consent.revoke", "allowed"),
    ]
    events = await service.pool.fetch(
        "SELECT message_key FROM outbox WHERE topic = $1 ORDER BY id", EVENTS_TOPIC
    )
    assert [bytes(e["message_key"]).decode() for e in events] == [consent.consent_id] * 2


async def test_every_missing_element_is_named_and_nothing_is_written(
    service: RunningService,
) -> None:
    request = service_pb2.RecordConsentRequest(
        terms=consent_pb2.ConsentTerms(subject_member_id=MEMBER)
    )
    error = await refused(as_(service, THE_MEMBER).RecordConsent(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in field_violations(error)} == {
        "terms.disclosing_organization_id",
        "terms.categories",
        "terms.recipient_organization_ids",
        "terms.purposes",
        "terms.revocation_instructions",
        "terms.valid_from",
        "terms.expires_at",
        "terms.capture_method",
        "terms.signed_at",
    }
    now = datetime.now(UTC)
    expired = service_pb2.RecordConsentRequest(
        terms=terms(expires_at=stamp(now - timedelta(seconds=1)))
    )
    error = await refused(as_(service, THE_MEMBER).RecordConsent(expired))
    assert [v.field for v in field_violations(error)] == ["terms.expires_at"]
    assert await service.count("consents") == 0
    assert await service.count_events() == 0


@pytest.mark.parametrize(
    "principal", [OTHER_MEMBER, CLINICIAN, OTHER_PROGRAM, ADMIN], ids=lambda p: p.subject
)
async def test_only_the_member_and_their_program_record(
    service: RunningService, principal: Principal
) -> None:
    error = await refused(record(as_(service, principal)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await service.count("consents") == 0
    assert [(r["action"], r["outcome"]) for r in await audit_rows(service)] == [
        ("consent.record", "denied")
    ]


READERS = [
    (THE_MEMBER, True),
    (COORDINATOR, True),
    (SUPPORTER, True),
    (CLINICIAN, True),  # named as a recipient
    (OTHER_CLINICIAN, False),
    (OTHER_MEMBER, False),
    (OTHER_PROGRAM, False),
]


@pytest.mark.parametrize(("principal", "sees"), READERS, ids=lambda p: getattr(p, "subject", ""))
async def test_who_reads_which_consent(
    service: RunningService, principal: Principal, sees: bool
) -> None:
    consent = await record(as_(service, SUPPORTER))
    stub = as_(service, principal)
    get = service_pb2.GetConsentRequest(consent_id=consent.consent_id)
    listing = await stub.ListConsents(service_pb2.ListConsentsRequest(subject_member_id=MEMBER))
    if sees:
        assert (await stub.GetConsent(get)).consent == consent
        assert [c.consent_id for c in listing.consents] == [consent.consent_id]
        return
    error = await refused(stub.GetConsent(get))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    missing = service_pb2.GetConsentRequest(consent_id=str(uuid.uuid4()))
    assert (await refused(stub.GetConsent(missing))).details() == (
        f"consent {missing.consent_id} not found"
    )
    assert list(listing.consents) == []
    denied = [r for r in await audit_rows(service) if r["outcome"] == "denied"]
    gets = [r["reason"] for r in denied if r["resource_id"] is not None]
    assert gets == ["not visible to the caller", "no such consent"]
    # A member asking for another member's consents is on record too.
    listings = [r["reason"] for r in denied if r["resource_id"] is None]
    assert listings == (["another member's consents"] if principal is OTHER_MEMBER else [])


async def test_a_recipient_may_not_revoke_and_an_administrator_sees_nothing(
    service: RunningService,
) -> None:
    consent = await record(as_(service, COORDINATOR))
    revoke = service_pb2.RevokeConsentRequest(consent_id=consent.consent_id)
    error = await refused(as_(service, CLINICIAN).RevokeConsent(revoke))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    error = await refused(as_(service, OTHER_CLINICIAN).RevokeConsent(revoke))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    get = service_pb2.GetConsentRequest(consent_id=consent.consent_id)
    error = await refused(as_(service, ADMIN).GetConsent(get))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    status = await service.pool.fetchval("SELECT status FROM consents")
    assert status == "active"


async def test_listing_pages_through_a_members_consents(service: RunningService) -> None:
    member = as_(service, THE_MEMBER)
    made = [(await record(member, f"req-{n}")).consent_id for n in range(4)]
    seen: list[str] = []
    token = ""
    while True:
        page = await member.ListConsents(
            service_pb2.ListConsentsRequest(subject_member_id=MEMBER, page_token=token)
        )
        seen += [c.consent_id for c in page.consents]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(made)
    assert len(seen) == 4


def consent_events(bootstrap: str, consent_id: str, count: int) -> list[Any]:
    """The events keyed by `consent_id` on the events topic, up to `count` of them."""
    records = read_topic(
        bootstrap, EVENTS_TOPIC, consent_id, lambda found: len(found) >= count, PATIENCE_S
    )
    return [decode(r.headers(), r.key(), r.value()) for r in records]


async def test_consent_given_and_revoked_reach_kafka_with_codes_only(
    running: ReferralsProcess, kafka_bootstrap: str
) -> None:
    assert running.server is not None
    await wait_for_serving(running.server.address, SERVICE_NAME, timeout_s=PATIENCE_S)
    channel = create_channel(running.server.address, default_timeout_s=10)
    async with channel:
        stub: Any = service_grpc.ReferralsServiceStub(channel)
        auth = (("authorization", f"Bearer {token_for(THE_MEMBER)}"),)
        request = service_pb2.RecordConsentRequest(
            terms=terms(
                capture_method=consent_pb2.CONSENT_CAPTURE_METHOD_VERBAL_WITH_WITNESS,
                witness_name="Sam Example (synthetic)",
            )
        )
        consent = (await stub.RecordConsent(request, metadata=auth)).consent
        revoke = service_pb2.RevokeConsentRequest(
            consent_id=consent.consent_id, reason="Synthetic: changed my mind"
        )
        await stub.RevokeConsent(revoke, metadata=auth)

    events = await asyncio.to_thread(consent_events, kafka_bootstrap, consent.consent_id, 2)

    assert [e.type for e in events] == [
        "peerbridge.referrals.v1.ConsentGiven",
        "peerbridge.referrals.v1.ConsentRevoked",
    ]
    given = consent_pb2.ConsentGiven.FromString(events[0].data)
    assert given.subject_member_id == MEMBER
    assert list(given.recipient_organization_ids) == [CLINIC]
    assert list(given.purposes) == [consent_pb2.CONSENT_PURPOSE_TREAT]
    revoked = consent_pb2.ConsentRevoked.FromString(events[1].data)
    assert revoked.consent_id == consent.consent_id
    for event in events:
        assert b"Sam Example" not in event.data
        assert b"changed my mind" not in event.data
        assert REVOCATION_INSTRUCTIONS.encode() not in event.data
