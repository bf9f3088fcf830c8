"""UpdateReferralStatus over a real socket, with real signed tokens, on real PostgreSQL, and
the FHIR view an EHR reads from real Kafka after a change."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import grpc
import pytest
from fhir.resources.R4B.bundle import Bundle

from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.auth import Principal, Role
from peerbridge_platform.grpc import create_channel, field_violations, wait_for_serving
from peerbridge_referrals.domain.lifecycle import NEXT_STATUSES, OUTCOME_REQUIRED, REASON_REQUIRED
from peerbridge_referrals.domain.values import Status
from peerbridge_referrals.entrypoints.app import ReferralsProcess
from peerbridge_referrals.entrypoints.grpc_server import SERVICE_NAME

from ..conftest import CLINIC, PROGRAM, synthetic_principal
from .conftest import RunningService, read_topic, token_for
from .test_access import audit_rows
from .test_consents import terms as consent_terms
from .test_grpc_referrals import create, refused, synthetic_request

pytestmark = pytest.mark.integration

REQUESTER = synthetic_principal()  # the coordinator of the requesting program
PERFORMER = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
REASON = "Synthetic: no openings this month."
OUTCOME = "Synthetic: started treatment, two visits."
FHIR_TOPIC = "peerbridge.referrals.fhir.v1"
PATIENCE_S = 60.0

STATUS_PROTO = {s: resources_pb2.ReferralStatus.Value(f"REFERRAL_STATUS_{s.name}") for s in Status}
SET_BY_REQUESTER = {Status.DRAFT, Status.REQUESTED, Status.ENTERED_IN_ERROR}


def update_request(referral_id: str, to: Status, **fields: Any) -> Any:
    """A request to move to `to`, carrying what that status needs."""
    if to in REASON_REQUIRED:
        fields.setdefault("status_reason", REASON)
    if to in OUTCOME_REQUIRED:
        fields.setdefault("outcome", OUTCOME)
    return service_pb2.UpdateReferralStatusRequest(
        referral_id=referral_id, status=STATUS_PROTO[to], **fields
    )


async def update(stub: Any, referral_id: str, to: Status, **fields: Any) -> Any:
    response = await stub.UpdateReferralStatus(update_request(referral_id, to, **fields))
    return response.referral


def as_(service: RunningService, principal: Principal) -> Any:
    return service.stub_as(token_for(principal))


async def put_in(service: RunningService, referral_id: str, status: Status) -> None:
    """Setup only: a referral in `status` at version 1 (creation always gives REQUESTED)."""
    await service.pool.execute(
        "UPDATE referrals SET status = $2 WHERE referral_id = $1",
        uuid.UUID(referral_id),
        status.value,
    )


async def state_of(service: RunningService) -> tuple[object, ...]:
    """What a refused call must leave as it was: referral rows, history, outbox (not audit)."""
    referrals = await service.pool.fetch("SELECT * FROM referrals ORDER BY referral_id")
    return (
        [dict(row) for row in referrals],
        await service.count("referral_status_changes"),
        await service.count_events(),
    )


ALLOWED = [(before, after) for before, nexts in NEXT_STATUSES.items() for after in sorted(nexts)]


@pytest.mark.parametrize(("before", "after"), ALLOWED, ids=[f"{b}->{a}" for b, a in ALLOWED])
async def test_each_allowed_transition_by_the_right_side(
    service: RunningService, before: Status, after: Status
) -> None:
    created = await create(service.stub)
    await put_in(service, created.referral_id, before)
    caller = REQUESTER if after in SET_BY_REQUESTER else PERFORMER
    events_before = await service.count_events()

    answer = await as_(service, caller).UpdateReferralStatus(
        update_request(created.referral_id, after, expected_version=1)
    )

    changed = answer.referral
    assert changed.status == STATUS_PROTO[after]
    assert changed.version == 2
    allowed, disclosed = (await audit_rows(service))[-2:]
    assert (allowed["action"], allowed["outcome"]) == ("referral.update_status", "allowed")
    assert disclosed["action"] == "referral.disclose"
    fetched = await service.stub.GetReferral(
        service_pb2.GetReferralRequest(referral_id=created.referral_id)
    )
    stored = fetched.referral  # as the requesting program reads it
    assert stored.status_reason == (REASON if after in REASON_REQUIRED else "")
    assert stored.outcome == (OUTCOME if after in OUTCOME_REQUIRED else "")
    if caller is PERFORMER:
        # No consent of the member here: the clinic's answer holds none of the detail.
        assert answer.disclosure.view == service_pb2.READ_VIEW_REDACTED
        assert (changed.subject_member_id, changed.reason, changed.outcome) == ("", "", "")
    else:
        assert changed == stored
    history = await service.pool.fetchrow(
        "SELECT * FROM referral_status_changes WHERE referral_id = $1",
        uuid.UUID(created.referral_id),
    )
    assert history is not None
    assert (history["from_status"], history["to_status"], history["version"]) == (
        before.value,
        after.value,
        2,
    )
    assert history["changed_by_subject"] == caller.subject
    assert history["changed_by_organization_id"] == caller.organization_id
    assert await service.count_events() == events_before + 2  # the event and the FHIR view


async def test_the_free_texts_are_stored_sealed(service: RunningService) -> None:
    created = await create(service.stub)
    await update(as_(service, PERFORMER), created.referral_id, Status.REJECTED)

    row = await service.pool.fetchrow(
        "SELECT * FROM referrals WHERE referral_id = $1", uuid.UUID(created.referral_id)
    )
    assert row is not None
    assert row["status_reason_ciphertext"] is not None
    assert REASON.encode() not in bytes(row["status_reason_ciphertext"])
    assert REASON not in json.dumps({k: str(v) for k, v in dict(row).items()})


REFUSED = [
    ("the requester accepts", REQUESTER, Status.REQUESTED, Status.ACCEPTED, "PERMISSION_DENIED"),
    (
        "the performer withdraws as entered in error",
        PERFORMER,
        Status.REQUESTED,
        Status.ENTERED_IN_ERROR,
        "PERMISSION_DENIED",
    ),
    (
        "the member it is about cancels",
        # With a write scope identity never grants a member: the lifecycle rule holds anyway.
        synthetic_principal(
            "member-synthetic-001",
            (Role.MEMBER,),
            None,
            frozenset({"referrals.read", "referrals.write"}),
        ),
        Status.REQUESTED,
        Status.CANCELLED,
        "PERMISSION_DENIED",
    ),
    (
        "a clinician elsewhere accepts",
        synthetic_principal("clinician-test-2", (Role.CLINICIAN,), "clinic-elsewhere-test"),
        Status.REQUESTED,
        Status.ACCEPTED,
        "NOT_FOUND",
    ),
    ("completing a requested one", PERFORMER, Status.REQUESTED, Status.COMPLETED,
     "FAILED_PRECONDITION"),
    ("reopening a completed one", PERFORMER, Status.COMPLETED, Status.IN_PROGRESS,
     "FAILED_PRECONDITION"),
    ("cancelling a rejected one", REQUESTER, Status.REJECTED, Status.CANCELLED,
     "FAILED_PRECONDITION"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("caller", "before", "after", "code"),
    [r[1:] for r in REFUSED],
    ids=[r[0] for r in REFUSED],
)
async def test_a_refused_change_changes_nothing_and_is_audited_as_denied(
    service: RunningService, caller: Principal, before: Status, after: Status, code: str
) -> None:
    created = await create(service.stub)
    if before is Status.COMPLETED:  # through the service, which seals the outcome
        for status in (Status.ACCEPTED, Status.IN_PROGRESS, Status.COMPLETED):
            await update(as_(service, PERFORMER), created.referral_id, status)
    else:
        await put_in(service, created.referral_id, before)
    state = await state_of(service)

    error = await refused(update(as_(service, caller), created.referral_id, after))

    assert error.code() is getattr(grpc.StatusCode, code)
    if code == "FAILED_PRECONDITION":
        assert before.value in (error.details() or "")
        assert after.value in (error.details() or "")
    assert await state_of(service) == state
    denied = (await audit_rows(service))[-1]
    assert (denied["action"], denied["outcome"]) == ("referral.update_status", "denied")
    assert (denied["resource_id"], denied["subject_id"]) == (
        created.referral_id,
        "member-synthetic-001",
    )


async def test_a_missing_reason_names_the_field_and_writes_nothing(
    service: RunningService,
) -> None:
    created = await create(service.stub)
    state = await state_of(service)

    error = await refused(
        as_(service, PERFORMER).UpdateReferralStatus(
            service_pb2.UpdateReferralStatusRequest(
                referral_id=created.referral_id,
                status=resources_pb2.REFERRAL_STATUS_REJECTED,
            )
        )
    )

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(error)] == ["status_reason"]
    assert await state_of(service) == state


async def test_a_stale_expected_version_is_aborted(service: RunningService) -> None:
    created = await create(service.stub)
    clinic = as_(service, PERFORMER)
    await update(clinic, created.referral_id, Status.ACCEPTED, expected_version=1)
    state = await state_of(service)

    error = await refused(
        update(clinic, created.referral_id, Status.IN_PROGRESS, expected_version=1)
    )

    assert error.code() is grpc.StatusCode.ABORTED
    assert await state_of(service) == state
    denied = (await audit_rows(service))[-1]
    assert (denied["outcome"], denied["reason"]) == (
        "denied",
        "the referral is at version 2, not 1: read it again",
    )


@pytest.mark.parametrize("expected_version", [1, 0])
async def test_of_concurrent_changes_exactly_one_wins(
    service: RunningService, expected_version: int
) -> None:
    created = await create(service.stub)
    clinic, program = as_(service, PERFORMER), as_(service, REQUESTER)
    # Without a version check, only changes that exclude each other: accepted and
    # rejected (a cancel could follow an accept, rightly).
    targets = [(clinic, Status.ACCEPTED), (clinic, Status.REJECTED)] * 4
    if expected_version:
        targets += [(program, Status.CANCELLED)] * 2
    calls = [
        update(stub, created.referral_id, to, expected_version=expected_version)
        for stub, to in targets
    ]

    results = await asyncio.gather(*calls, return_exceptions=True)

    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(won) == 1
    assert len(lost) == len(calls) - 1
    # A loser either saw the stale version or found the winner's terminal status.
    assert {e.code() for e in lost} <= {
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.FAILED_PRECONDITION,
    }
    assert await service.count("referral_status_changes") == 1
    fetched = await service.stub.GetReferral(
        service_pb2.GetReferralRequest(referral_id=created.referral_id)
    )
    # The winner's answer is the stored change (redacted when the clinic won, unconsented).
    assert (fetched.referral.status, fetched.referral.version) == (won[0].status, 2)


# -- what an EHR reads ------------------------------------------------------------


def fhir_views_of(bootstrap: str, key: str, version: str) -> list[Any]:
    """Every FHIR view of the referral `key` up to the one at `version` (or the deadline)."""

    def at_version(found: list[Any]) -> bool:
        return bool(found) and _version(found[-1]) == version

    records = read_topic(bootstrap, FHIR_TOPIC, key, at_version, PATIENCE_S)
    return [Bundle.model_validate_json(r.value() or b"") for r in records]


def _version(record: Any) -> str:
    bundle = Bundle.model_validate_json(record.value() or b"")
    return str(bundle.entry[0].resource.meta.versionId)


async def test_an_ehr_reads_each_change_in_order_as_valid_fhir(
    running: ReferralsProcess, kafka_bootstrap: str
) -> None:
    assert running.server is not None
    await wait_for_serving(running.server.address, SERVICE_NAME, timeout_s=PATIENCE_S)
    channel = create_channel(running.server.address, default_timeout_s=10)
    async with channel:
        stub: Any = service_grpc.ReferralsServiceStub(channel)

        def auth(principal: Principal) -> tuple[tuple[str, str]]:
            return (("authorization", f"Bearer {token_for(principal)}"),)

        # Under the member's consent, so the EHR gets the full view (see test_consent_gating).
        consent = service_pb2.RecordConsentRequest(terms=consent_terms())
        await stub.RecordConsent(consent, metadata=auth(REQUESTER))
        response = await stub.CreateReferral(synthetic_request(), metadata=auth(REQUESTER))
        referral_id = response.referral.referral_id
        for status in (Status.ACCEPTED, Status.IN_PROGRESS, Status.COMPLETED):
            await stub.UpdateReferralStatus(
                update_request(referral_id, status), metadata=auth(PERFORMER)
            )

    views = await asyncio.to_thread(fhir_views_of, kafka_bootstrap, referral_id, "4")

    tasks = [view.entry[0].resource for view in views]
    assert [(t.meta.versionId, t.status) for t in tasks] == [
        ("1", "requested"),
        ("2", "accepted"),
        ("3", "in-progress"),
        ("4", "completed"),
    ]
    done = tasks[-1]
    assert done.output[0].valueString == OUTCOME
    assert {c.code for c in done.meta.security} >= {"R", "42CFRPart2", "ETH", "NORDSCLCD"}
    assert done.owner.identifier.value == CLINIC
    assert done.requester.identifier.value == PROGRAM
