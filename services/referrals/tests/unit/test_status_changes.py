"""Status changes through the handler over in-memory fakes, and what a change sends out: the
protobuf event without free text, and the FHIR view with Task.statusReason and Task.output."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from unittest.mock import ANY
from uuid import UUID, uuid4

import pytest
from fhir.resources.R4B.bundle import Bundle

from peerbridge.referrals.v1 import referrals_events_pb2, referrals_resources_pb2
from peerbridge_platform.auth import Principal, Role
from peerbridge_platform.envelope import unpack_proto
from peerbridge_platform.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from peerbridge_referrals.adapters.in_memory import (
    InMemoryDeniedAccessLog,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from peerbridge_referrals.adapters.integration_events import (
    EVENTS_TOPIC,
    FHIR_TOPIC,
    messages_for,
)
from peerbridge_referrals.domain.commands import UpdateReferralStatus
from peerbridge_referrals.domain.disclosure import Disclosure
from peerbridge_referrals.domain.events import ReferralStatusChanged
from peerbridge_referrals.domain.lifecycle import Actor, Side
from peerbridge_referrals.domain.model import Referral
from peerbridge_referrals.domain.read_gate import NOT_A_DISCLOSURE, GatedRead, ReadView
from peerbridge_referrals.domain.values import Status, StatusReasonCategory
from peerbridge_referrals.service_layer import handlers
from peerbridge_referrals.service_layer.audit import DISCLOSE, UPDATE_STATUS, Access

from ..conftest import CLINIC, PROGRAM, synthetic_create_command, synthetic_principal

Clock = Callable[[], datetime]

REQUESTER = synthetic_principal()
PERFORMER = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
REASON = "Synthetic: no openings this month."
OUTCOME = "Synthetic: started treatment, two visits."


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
async def referral(store: InMemoryStore, clock: Clock) -> Referral:
    return await handlers.create_referral(
        synthetic_create_command(),
        InMemoryUnitOfWork(store),
        caller=REQUESTER,
        denials=InMemoryDeniedAccessLog(store),
        clock=clock,
        new_id=uuid4,
    )


async def update(
    store: InMemoryStore, clock: Clock, caller: Principal, referral_id: str, **fields: Any
) -> Referral:
    """The referral as stored after the change (the caller's answer: `answer_to`)."""
    await answer_to(store, clock, caller, referral_id, **fields)
    return store.referrals[UUID(referral_id)]


async def answer_to(
    store: InMemoryStore, clock: Clock, caller: Principal, referral_id: str, **fields: Any
) -> GatedRead:
    return await handlers.update_referral_status(
        UpdateReferralStatus(referral_id=referral_id, **fields),
        InMemoryUnitOfWork(store),
        caller=caller,
        denials=InMemoryDeniedAccessLog(store),
        clock=clock,
    )


def snapshot(store: InMemoryStore) -> tuple[object, ...]:
    return (dict(store.referrals), list(store.status_changes), list(store.published))


async def test_the_performer_accepts_and_everything_is_kept_in_one_commit(
    store: InMemoryStore, clock: Clock, referral: Referral
) -> None:
    commits = store.commits
    accepted = await update(
        store, clock, PERFORMER, str(referral.referral_id), status="accepted", expected_version=1
    )

    assert (accepted.status, accepted.version) == (Status.ACCEPTED, 2)
    assert accepted.update_time > referral.update_time
    assert store.referrals[referral.referral_id] == accepted
    actor = Actor("clinician-test-1", CLINIC, Side.PERFORMER)
    event = ReferralStatusChanged(accepted, Status.REQUESTED, actor)
    assert store.status_changes == [event]
    assert store.published[-1] == replace(event, disclosure=Disclosure(None, withheld_because=ANY))
    assert store.audited[-2] == Access(
        UPDATE_STATUS,
        str(referral.referral_id),
        "member-synthetic-001",
        store.audited[-2].purpose,
        "status requested to accepted",
    )
    assert store.audited[-1].action == DISCLOSE
    assert store.commits == commits + 1


async def test_a_round_trip_to_completion_keeps_reason_and_outcome(
    store: InMemoryStore, clock: Clock, referral: Referral
) -> None:
    rid = str(referral.referral_id)
    await update(store, clock, PERFORMER, rid, status="accepted")
    await update(store, clock, PERFORMER, rid, status="in_progress")
    held = await update(
        store,
        clock,
        PERFORMER,
        rid,
        status="on_hold",
        status_reason=REASON,
        status_reason_category="no_capacity",
    )
    await update(store, clock, PERFORMER, rid, status="in_progress")
    done = await update(store, clock, PERFORMER, rid, status="completed", outcome=OUTCOME)

    assert (held.status_reason, held.status_reason_category) == (
        REASON,
        StatusReasonCategory.NO_CAPACITY,
    )
    assert (done.status, done.version, done.outcome) == (Status.COMPLETED, 6, OUTCOME)
    assert [(c.previous_status, c.referral.status) for c in store.status_changes] == [
        (Status.REQUESTED, Status.ACCEPTED),
        (Status.ACCEPTED, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Status.ON_HOLD),
        (Status.ON_HOLD, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Status.COMPLETED),
    ]


REFUSALS = [
    ("the requester accepts", REQUESTER, {"status": "accepted"}, PermissionDenied),
    (
        # Even with a write scope a member's token never has, the rule holds.
        "a member cancels",
        synthetic_principal(
            "member-synthetic-001",
            (Role.MEMBER,),
            None,
            scopes=frozenset({"referrals.read", "referrals.write"}),
        ),
        {"status": "cancelled", "status_reason": REASON},
        PermissionDenied,
    ),
    ("a stale version", PERFORMER, {"status": "accepted", "expected_version": 5}, Conflict),
    ("an invalid move", PERFORMER, {"status": "completed", "outcome": OUTCOME}, FailedPrecondition),
    (
        "another organization",
        synthetic_principal(roles=(Role.COORDINATOR,), organization_id="program-elsewhere-test"),
        {"status": "cancelled", "status_reason": REASON},
        NotFound,
    ),
]


@pytest.mark.parametrize(
    ("caller", "fields", "error"),
    [(c, f, e) for _, c, f, e in REFUSALS],
    ids=[name for name, *_ in REFUSALS],
)
async def test_a_refusal_changes_nothing_and_is_audited_as_denied(
    store: InMemoryStore,
    clock: Clock,
    referral: Referral,
    caller: Principal,
    fields: dict[str, Any],
    error: type[Exception],
) -> None:
    before = snapshot(store)

    with pytest.raises(error):
        await update(store, clock, caller, str(referral.referral_id), **fields)

    assert snapshot(store) == before
    denied = store.denied[-1]
    assert (denied.action, denied.referral_id) == (UPDATE_STATUS, str(referral.referral_id))
    assert denied.subject_member_id == "member-synthetic-001"
    assert denied.reason


async def test_an_unknown_referral_is_not_found_and_audited(
    store: InMemoryStore, clock: Clock
) -> None:
    unknown = str(uuid4())
    with pytest.raises(NotFound):
        await update(store, clock, PERFORMER, unknown, status="accepted")
    assert store.denied == [
        Access(UPDATE_STATUS, unknown, None, store.denied[0].purpose, "no such referral")
    ]


async def test_a_missing_reason_is_invalid_and_writes_nothing(
    store: InMemoryStore, clock: Clock, referral: Referral
) -> None:
    before = snapshot(store)
    with pytest.raises(InvalidArgument) as caught:
        await update(store, clock, PERFORMER, str(referral.referral_id), status="rejected")

    assert [v.field for v in caught.value.violations] == ["status_reason"]
    assert snapshot(store) == before
    assert store.denied == []


async def test_without_the_write_scope_it_is_refused_and_audited(
    store: InMemoryStore, clock: Clock, referral: Referral
) -> None:
    reader = synthetic_principal(
        "clinician-test-1", (Role.CLINICIAN,), CLINIC, scopes=frozenset({"referrals.read"})
    )
    with pytest.raises(PermissionDenied):
        await update(store, clock, reader, str(referral.referral_id), status="accepted")
    assert [(a.action, a.reason) for a in store.denied] == [
        (UPDATE_STATUS, "requires scope referrals.write")
    ]


async def test_a_change_by_the_requester_side_of_a_partner_client(
    store: InMemoryStore, clock: Clock, referral: Referral
) -> None:
    client = synthetic_principal(
        "app-harbour",
        (Role.PARTNER_CLIENT,),
        PROGRAM,
        scopes=frozenset({"referrals.read", "referrals.write"}),
        client_id="app-harbour",
    )
    cancelled = await update(
        store, clock, client, str(referral.referral_id), status="cancelled", status_reason=REASON
    )

    assert cancelled.status is Status.CANCELLED
    assert store.status_changes[-1].changed_by == Actor(
        "app-harbour", PROGRAM, Side.REQUESTER, "app-harbour"
    )


# -- what leaves the service --------------------------------------------------------


async def test_a_change_sends_an_event_without_free_text_and_the_fhir_view(
    store: InMemoryStore, clock: Clock, referral: Referral
) -> None:
    rid = str(referral.referral_id)
    await update(store, clock, PERFORMER, rid, status="accepted")
    await update(store, clock, PERFORMER, rid, status="in_progress")
    done = await update(store, clock, PERFORMER, rid, status="completed", outcome=OUTCOME)
    event = store.status_changes[-1]

    event_message, view_message = messages_for(event)

    assert (event_message.topic, view_message.topic) == (EVENTS_TOPIC, FHIR_TOPIC)
    envelope = event_message.envelope
    assert envelope.subject == rid
    assert envelope.extensions == {"recipientorganization": CLINIC}
    decoded = unpack_proto(envelope, referrals_events_pb2.ReferralStatusChanged)
    assert decoded.from_status == referrals_resources_pb2.REFERRAL_STATUS_IN_PROGRESS
    assert decoded.to_status == referrals_resources_pb2.REFERRAL_STATUS_COMPLETED
    assert decoded.changed_by_organization_id == CLINIC
    assert decoded.version == done.version == 4
    assert OUTCOME.encode() not in envelope.data
    assert referral.reason.encode() not in envelope.data

    task = task_of(view_message.envelope.data)
    assert task["status"] == "completed"
    assert task["output"][0]["valueString"] == OUTCOME
    assert task["meta"]["versionId"] == "4"


async def test_the_fhir_view_carries_the_status_reason_with_its_code(
    store: InMemoryStore, clock: Clock, referral: Referral
) -> None:
    await update(
        store,
        clock,
        PERFORMER,
        str(referral.referral_id),
        status="rejected",
        status_reason=REASON,
        status_reason_category="no_capacity",
    )
    event = store.status_changes[-1]
    decoded = unpack_proto(
        messages_for(event)[0].envelope, referrals_events_pb2.ReferralStatusChanged
    )
    assert (
        decoded.status_reason_category
        == referrals_resources_pb2.REFERRAL_STATUS_REASON_CATEGORY_NO_CAPACITY
    )
    assert REASON.encode() not in messages_for(event)[0].envelope.data

    bundle_json = messages_for(event)[1].envelope.data
    task = task_of(bundle_json)
    assert task["status"] == "rejected"
    assert task["statusReason"]["text"] == REASON
    assert task["statusReason"]["coding"][0]["code"] == "no-capacity"
    assert "output" not in task
    request = resource_of(bundle_json, "ServiceRequest")
    assert request["status"] == "revoked"
    assert {label["code"] for label in task["meta"]["security"]} == {
        "R", "42CFRPart2", "ETH", "NORDSCLCD"
    }  # fmt: skip
    assert referral.reason not in bundle_json.decode()


def resource_of(bundle_json: bytes, resource_type: str) -> dict[str, Any]:
    Bundle.model_validate_json(bundle_json)  # valid FHIR R4 (R4B models)
    bundle = json.loads(bundle_json)
    found: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    )
    return found


def task_of(bundle_json: bytes) -> dict[str, Any]:
    return resource_of(bundle_json, "Task")


async def test_the_recipient_gets_back_no_more_than_the_change_discloses(
    store: InMemoryStore, clock: Clock, referral: Referral
) -> None:
    """Without the member's consent the clinic that accepts learns the new status, not the
    member, reason or category; the requesting program gets its referral whole."""
    answer = await answer_to(
        store, clock, PERFORMER, str(referral.referral_id), status="accepted", expected_version=1
    )
    assert answer.disclosure.view is ReadView.REDACTED
    assert "no active consent" in answer.disclosure.reason
    assert (answer.referral.status, answer.referral.version) == (Status.ACCEPTED, 2)
    assert answer.referral.subject_member_id == ""
    assert answer.referral.reason == ""
    own = await answer_to(
        store,
        clock,
        REQUESTER,
        str(referral.referral_id),
        status="cancelled",
        expected_version=2,
        status_reason="The member moved away.",
    )
    assert own.disclosure == NOT_A_DISCLOSURE
    assert own.referral.subject_member_id == referral.subject_member_id
