"""Overdue windows: every priority and kind, at and around each boundary, and raising once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from peerbridge_platform.auth import Role
from peerbridge_referrals.domain.model import open_referral
from peerbridge_referrals.domain.overdue import (
    DEFAULT_WINDOWS,
    OverdueKind,
    OverdueWindows,
    WaitingReferral,
    Windows,
    deadline,
    is_current,
    newly_overdue,
    overdue_state,
    waiting,
)
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import Priority, Status
from peerbridge_referrals.domain.worklist import may_read_worklist, side_of, worklist_organization

from ..conftest import CLINIC, PROGRAM, synthetic_create_command, synthetic_principal

WINDOWS = OverdueWindows(DEFAULT_WINDOWS)
SENT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)

EXPECTED = {
    (Priority.STAT, OverdueKind.ACKNOWLEDGE): timedelta(hours=1),
    (Priority.STAT, OverdueKind.ACT): timedelta(hours=4),
    (Priority.ASAP, OverdueKind.ACKNOWLEDGE): timedelta(hours=4),
    (Priority.ASAP, OverdueKind.ACT): timedelta(hours=24),
    (Priority.URGENT, OverdueKind.ACKNOWLEDGE): timedelta(hours=24),
    (Priority.URGENT, OverdueKind.ACT): timedelta(days=3),
    (Priority.ROUTINE, OverdueKind.ACKNOWLEDGE): timedelta(days=3),
    (Priority.ROUTINE, OverdueKind.ACT): timedelta(days=14),
}
STATUS_OF = {OverdueKind.ACKNOWLEDGE: Status.REQUESTED, OverdueKind.ACT: Status.ACCEPTED}


def referral(
    priority: Priority, status: Status = Status.REQUESTED, **changes: object
) -> WaitingReferral:
    details = validate_new_referral(synthetic_create_command(priority=priority.value))
    opened, _ = open_referral(details, referral_id=uuid4(), request_id=None, now=SENT)
    return waiting(replace(opened, status=status, **changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(("priority", "kind"), list(EXPECTED))
def test_each_window_ends_exactly_at_its_configured_length(
    priority: Priority, kind: OverdueKind
) -> None:
    waiting = referral(priority, STATUS_OF[kind])
    due = SENT + EXPECTED[(priority, kind)]

    assert deadline(waiting, WINDOWS) == (kind, due)
    assert overdue_state(waiting, WINDOWS, due - TICK) is None
    at_boundary = overdue_state(waiting, WINDOWS, due)
    assert at_boundary is not None
    assert (at_boundary.kind, at_boundary.due_time, at_boundary.status) == (
        kind,
        due,
        STATUS_OF[kind],
    )
    assert overdue_state(waiting, WINDOWS, due + timedelta(days=365)) == at_boundary


def test_windows_are_shorter_the_higher_the_priority() -> None:
    order = [Priority.STAT, Priority.ASAP, Priority.URGENT, Priority.ROUTINE]
    for kind in OverdueKind:
        lengths = [WINDOWS.window(p, kind) for p in order]
        assert lengths == sorted(lengths)
    for priority in Priority:
        assert WINDOWS.window(priority, OverdueKind.ACKNOWLEDGE) < WINDOWS.window(
            priority, OverdueKind.ACT
        )


@pytest.mark.parametrize(
    "status", sorted(set(Status) - {Status.REQUESTED, Status.ACCEPTED}, key=str)
)
def test_other_statuses_are_never_overdue(status: Status) -> None:
    waiting = referral(Priority.STAT, status)

    assert deadline(waiting, WINDOWS) is None
    assert overdue_state(waiting, WINDOWS, SENT + timedelta(days=3650)) is None


def test_the_window_runs_from_the_last_status_change() -> None:
    accepted_at = SENT + timedelta(hours=30)
    accepted = referral(Priority.URGENT, Status.ACCEPTED, update_time=accepted_at, version=2)

    assert overdue_state(accepted, WINDOWS, accepted_at + timedelta(days=3) - TICK) is None
    state = overdue_state(accepted, WINDOWS, accepted_at + timedelta(days=3))
    assert state is not None
    assert (state.kind, state.version) == (OverdueKind.ACT, 2)


def test_configured_windows_replace_the_defaults() -> None:
    tight = OverdueWindows(
        {p: Windows(timedelta(minutes=5), timedelta(minutes=10)) for p in Priority}
    )
    waiting = referral(Priority.ROUTINE)

    assert overdue_state(waiting, tight, SENT + timedelta(minutes=5)) is not None
    assert overdue_state(waiting, WINDOWS, SENT + timedelta(minutes=5)) is None


def test_windows_must_be_positive_and_cover_every_priority() -> None:
    with pytest.raises(ValueError, match="positive"):
        Windows(timedelta(0), timedelta(hours=1))
    with pytest.raises(ValueError, match="no overdue windows"):
        OverdueWindows({Priority.STAT: DEFAULT_WINDOWS[Priority.STAT]})


def test_each_overdue_state_is_new_once() -> None:
    late = referral(Priority.STAT)
    on_time = referral(Priority.ROUTINE)
    now = SENT + timedelta(hours=2)

    first = newly_overdue([late, on_time, late], WINDOWS, now, set())
    assert [s.referral_id for s in first] == [late.referral_id]
    assert newly_overdue([late, on_time], WINDOWS, now, {first[0].key}) == []


def test_a_status_change_makes_a_new_state_and_ends_the_old_one() -> None:
    late = referral(Priority.STAT)
    (state,) = newly_overdue([late], WINDOWS, SENT + timedelta(hours=2), set())
    accepted = replace(late, status=Status.ACCEPTED, version=2, since=SENT + timedelta(hours=2))

    assert is_current(state, late)
    assert not is_current(state, accepted)
    (act,) = newly_overdue([accepted], WINDOWS, SENT + timedelta(hours=6), {state.key})
    assert (act.kind, act.version) == (OverdueKind.ACT, 2)


def test_rows_list_every_status_priority_and_kind() -> None:
    rows = WINDOWS.rows()

    assert len(rows) == 2 * len(Priority)
    assert {(r[1], r[2]): r[3] for r in rows} == EXPECTED
    assert all(r[0] is STATUS_OF[r[2]] for r in rows)


def test_coordinators_and_supervisors_read_their_own_organizations_worklist() -> None:
    coordinator = synthetic_principal()
    supervisor = synthetic_principal("supervisor-test-1", (Role.SUPERVISOR,))
    supporter = synthetic_principal("supporter-test-7", (Role.PEER_SUPPORTER,))
    clinician = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)

    assert may_read_worklist(coordinator, PROGRAM)
    assert may_read_worklist(supervisor, PROGRAM)
    assert not may_read_worklist(coordinator, CLINIC)
    assert not may_read_worklist(supporter, PROGRAM)
    assert not may_read_worklist(clinician, CLINIC)
    assert worklist_organization(synthetic_principal(organization_id=None)) is None


def test_side_of_names_the_organizations_side() -> None:
    assert side_of(PROGRAM, PROGRAM, CLINIC) == "requester"
    assert side_of(CLINIC, PROGRAM, CLINIC) == "recipient"
    assert side_of("elsewhere", PROGRAM, CLINIC) is None
