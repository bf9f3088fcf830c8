"""The lifecycle table, every pair of statuses by every side, and a property over sequences."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import product
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerbridge_platform.auth import Role
from peerbridge_platform.errors import (
    Conflict,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
)
from peerbridge_referrals.domain.commands import UpdateReferralStatus
from peerbridge_referrals.domain.lifecycle import (
    NEXT_STATUSES,
    OUTCOME_REQUIRED,
    REASON_REQUIRED,
    SET_BY,
    STATUS_REASON_MAX_CHARS,
    TERMINAL,
    Actor,
    Side,
    StatusChange,
    actor_for,
    change_status,
    reachable_from,
    validate_status_change,
)
from peerbridge_referrals.domain.model import Referral, open_referral
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import Status, StatusReasonCategory

from ..conftest import CLINIC, PROGRAM, synthetic_create_command, synthetic_principal

S = Status
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
REQUESTER = Actor("coordinator-test-1", PROGRAM, Side.REQUESTER)
PERFORMER = Actor("clinician-test-1", CLINIC, Side.PERFORMER)
ACTORS = {Side.REQUESTER: REQUESTER, Side.PERFORMER: PERFORMER}

# The table as the README states it; a change to either must be deliberate.
EXPECTED_NEXT = {
    "draft": {"requested", "cancelled", "entered_in_error"},
    "requested": {"accepted", "rejected", "cancelled", "entered_in_error"},
    "accepted": {"in_progress", "failed", "cancelled", "entered_in_error"},
    "in_progress": {"on_hold", "completed", "failed", "cancelled", "entered_in_error"},
    "on_hold": {"in_progress", "failed", "cancelled", "entered_in_error"},
    "rejected": set(),
    "failed": set(),
    "completed": set(),
    "cancelled": set(),
    "entered_in_error": set(),
}


def referral_in(status: Status, version: int = 1) -> Referral:
    referral, _ = open_referral(
        validate_new_referral(synthetic_create_command()),
        referral_id=uuid4(),
        request_id=None,
        now=NOW - timedelta(days=1),
    )
    return replace(referral, status=status, version=version)


def change_to(status: Status, **changes: object) -> StatusChange:
    """A change to `status` carrying what that status needs."""
    fields: dict[str, object] = {
        "referral_id": uuid4(),
        "status": status,
        "reason": "Synthetic reason." if status in REASON_REQUIRED else None,
        "outcome": "Synthetic outcome." if status in OUTCOME_REQUIRED else None,
    }
    fields.update(changes)
    return StatusChange(**fields)  # type: ignore[arg-type]


# -- the tables -----------------------------------------------------------------


def test_the_table_is_the_documented_one() -> None:
    assert {s.value: {n.value for n in after} for s, after in NEXT_STATUSES.items()} == (
        EXPECTED_NEXT
    )
    assert set(NEXT_STATUSES) == set(Status) == set(SET_BY)
    assert {s.value for s in TERMINAL} == {
        "rejected", "failed", "completed", "cancelled", "entered_in_error"
    }  # fmt: skip


def test_who_sets_what() -> None:
    by = {s.value: sorted(side.value for side in sides) for s, sides in SET_BY.items()}
    assert by == {
        "draft": ["requester"],
        "requested": ["requester"],
        "entered_in_error": ["requester"],
        "accepted": ["performer"],
        "rejected": ["performer"],
        "in_progress": ["performer"],
        "on_hold": ["performer"],
        "failed": ["performer"],
        "completed": ["performer"],
        "cancelled": ["performer", "requester"],
    }


def test_every_status_but_draft_is_reachable_from_requested() -> None:
    assert reachable_from(S.REQUESTED) == set(Status) - {S.DRAFT}
    assert reachable_from(S.DRAFT) == set(Status)


@pytest.mark.parametrize(
    ("current", "target", "side"),
    list(product(Status, Status, Side)),
    ids=lambda v: str(v),
)
def test_every_pair_by_every_side(current: Status, target: Status, side: Side) -> None:
    referral = referral_in(current, version=3)
    change = change_to(target)

    allowed_side = side in SET_BY[target]
    allowed_move = target in NEXT_STATUSES[current]
    if allowed_side and allowed_move:
        changed, event = change_status(referral, change, ACTORS[side], now=NOW)
        assert changed.status is target
        assert changed.version == 4
        assert changed.update_time == NOW
        assert changed.status_reason == change.reason
        assert (event.referral, event.previous_status, event.changed_by) == (
            changed,
            current,
            ACTORS[side],
        )
        return
    expected = PermissionDenied if not allowed_side else FailedPrecondition
    with pytest.raises(expected) as caught:
        change_status(referral, change, ACTORS[side], now=NOW)
    if expected is FailedPrecondition:
        assert current.value in str(caught.value)
        assert target.value in str(caught.value)


def test_completing_records_the_outcome() -> None:
    done, _ = change_status(referral_in(S.IN_PROGRESS), change_to(S.COMPLETED), PERFORMER, now=NOW)
    assert done.outcome == "Synthetic outcome."
    assert done.status_reason is None


def test_a_new_status_replaces_the_previous_reason() -> None:
    held, _ = change_status(
        referral_in(S.IN_PROGRESS),
        change_to(S.ON_HOLD, reason_category=StatusReasonCategory.MEMBER_UNREACHABLE),
        PERFORMER,
        now=NOW,
    )
    resumed, _ = change_status(held, change_to(S.IN_PROGRESS), PERFORMER, now=NOW)

    assert (held.status_reason, held.status_reason_category) == (
        "Synthetic reason.",
        StatusReasonCategory.MEMBER_UNREACHABLE,
    )
    assert (resumed.status_reason, resumed.status_reason_category) == (None, None)


def test_no_side_may_change_nothing() -> None:
    with pytest.raises(PermissionDenied):
        change_status(referral_in(S.REQUESTED), change_to(S.CANCELLED), None, now=NOW)


@pytest.mark.parametrize(("expected", "refused"), [(1, False), (0, False), (2, True)])
def test_the_expected_version_must_be_the_current_one(expected: int, refused: bool) -> None:
    change = change_to(S.ACCEPTED, expected_version=expected)
    if refused:
        with pytest.raises(Conflict, match="version 1, not 2"):
            change_status(referral_in(S.REQUESTED), change, PERFORMER, now=NOW)
    else:
        assert change_status(referral_in(S.REQUESTED), change, PERFORMER, now=NOW)[0].version == 2


def test_the_side_is_checked_before_the_version_and_the_version_before_the_move() -> None:
    stale_and_final = change_to(S.ACCEPTED, expected_version=7)
    with pytest.raises(PermissionDenied):
        change_status(referral_in(S.COMPLETED), stale_and_final, REQUESTER, now=NOW)
    with pytest.raises(Conflict):
        change_status(referral_in(S.COMPLETED), stale_and_final, PERFORMER, now=NOW)


# -- who is which side ------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "organization", "side"),
    [
        ((Role.COORDINATOR,), PROGRAM, Side.REQUESTER),
        ((Role.PEER_SUPPORTER,), PROGRAM, Side.REQUESTER),
        ((Role.SUPERVISOR,), PROGRAM, Side.REQUESTER),
        ((Role.PARTNER_CLIENT,), PROGRAM, Side.REQUESTER),
        ((Role.CLINICIAN,), CLINIC, Side.PERFORMER),
        ((Role.PARTNER_CLIENT,), CLINIC, Side.PERFORMER),
        ((Role.COORDINATOR,), CLINIC, Side.PERFORMER),
        ((Role.COORDINATOR,), "program-elsewhere-test", None),
        ((Role.MEMBER,), PROGRAM, None),
        ((Role.ADMIN,), PROGRAM, None),
        ((Role.COORDINATOR,), None, None),
    ],
)
def test_the_side_is_the_callers_organization(
    roles: tuple[Role, ...], organization: str | None, side: Side | None
) -> None:
    principal = synthetic_principal(roles=roles, organization_id=organization, client_id="c-1")
    actor = actor_for(principal, referral_in(S.REQUESTED))

    if side is None:
        assert actor is None
    else:
        assert actor == Actor(principal.subject, PROGRAM if side is Side.REQUESTER else CLINIC,
                              side, "c-1")  # fmt: skip


# -- the request's own values -----------------------------------------------------


def command(**changes: object) -> UpdateReferralStatus:
    fields: dict[str, object] = {"referral_id": str(uuid4()), "status": "accepted"}
    fields.update(changes)
    return UpdateReferralStatus(**fields)  # type: ignore[arg-type]


def violations_of(given_command: UpdateReferralStatus) -> list[FieldViolation]:
    with pytest.raises(InvalidArgument) as caught:
        validate_status_change(given_command)
    return caught.value.violations


def test_a_valid_request_gives_a_typed_change() -> None:
    given_command = command(
        status="rejected",
        status_reason="No openings this month.",
        status_reason_category="no_capacity",
        expected_version=4,
    )
    change = validate_status_change(given_command)

    assert change == StatusChange(
        referral_id=change.referral_id,
        status=S.REJECTED,
        reason="No openings this month.",
        reason_category=StatusReasonCategory.NO_CAPACITY,
        outcome=None,
        expected_version=4,
    )
    assert str(change.referral_id) == given_command.referral_id


@pytest.mark.parametrize("status", sorted(s.value for s in REASON_REQUIRED))
def test_these_statuses_need_a_reason(status: str) -> None:
    assert violations_of(command(status=status, status_reason="   ")) == [
        FieldViolation("status_reason", f"is required for status {status}")
    ]


def test_completed_needs_an_outcome_and_no_other_status_takes_one() -> None:
    assert violations_of(command(status="completed")) == [
        FieldViolation("outcome", "is required for status completed")
    ]
    assert violations_of(command(status="in_progress", outcome="Seen twice.")) == [
        FieldViolation("outcome", "must be empty for status in_progress")
    ]


def test_every_bad_field_is_reported_at_once() -> None:
    violations = violations_of(
        UpdateReferralStatus(
            referral_id="not-a-uuid",
            status="ready",
            status_reason="x" * (STATUS_REASON_MAX_CHARS + 1),
            status_reason_category="because",
            outcome="",
            expected_version=-1,
        )
    )
    assert [v.field for v in violations] == [
        "referral_id",
        "status",
        "status_reason_category",
        "status_reason",
        "expected_version",
    ]


def test_a_category_needs_its_reason_text() -> None:
    assert violations_of(command(status_reason_category="other")) == [
        FieldViolation("status_reason", "is required with a category")
    ]


def test_an_empty_request_names_what_is_required() -> None:
    assert violations_of(UpdateReferralStatus(referral_id="", status="")) == [
        FieldViolation("referral_id", "is required"),
        FieldViolation("status", "is required"),
    ]


# -- any sequence of requests -------------------------------------------------------

requests = st.lists(
    st.tuples(
        st.sampled_from(list(Status)),
        st.sampled_from([*Side, None]),
        st.booleans(),  # the caller read the current version
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(requests)
def test_any_sequence_leaves_a_reachable_state_and_refusals_change_nothing(
    sequence: list[tuple[Status, Side | None, bool]],
) -> None:
    referral = referral_in(S.REQUESTED)
    applied = 0
    for target, side, fresh in sequence:
        version = referral.version if fresh else referral.version + 1
        change = change_to(target, expected_version=version)
        before = referral
        try:
            referral, _ = change_status(referral, change, ACTORS[side] if side else None, now=NOW)
        except DomainError:
            assert referral == before
            continue
        applied += 1
        assert target in NEXT_STATUSES[before.status]
        assert side in SET_BY[target]
        assert fresh
    assert referral.status in reachable_from(S.REQUESTED)
    assert referral.version == 1 + applied
