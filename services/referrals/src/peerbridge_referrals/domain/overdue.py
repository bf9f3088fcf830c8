"""When a referral is overdue: each priority's two windows, as pure functions.

- acknowledge: a REQUESTED referral must be accepted or rejected within its window;
- act: an ACCEPTED referral must be started (in progress) or completed within its window.

A window runs from the moment the referral entered its status (its `update_time`,
which every status change sets). Each (referral, status version, kind) is overdue at
most once: a later status change is a new version, with a new window or none.
The windows themselves come from configuration; `DEFAULT_WINDOWS` are the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from .events import DomainEvent
from .model import Referral
from .values import Priority, Status


class OverdueKind(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ACT = "act"


# The status a referral waits in for each kind of window.
WAITING_STATUS: dict[OverdueKind, Status] = {
    OverdueKind.ACKNOWLEDGE: Status.REQUESTED,
    OverdueKind.ACT: Status.ACCEPTED,
}
_KIND_FOR_STATUS = {status: kind for kind, status in WAITING_STATUS.items()}


@dataclass(frozen=True)
class Windows:
    """How long a referral of one priority may wait to be acknowledged, then acted on."""

    acknowledge: timedelta
    act: timedelta

    def __post_init__(self) -> None:
        if self.acknowledge <= timedelta(0) or self.act <= timedelta(0):
            raise ValueError("overdue windows must be positive")

    def for_kind(self, kind: OverdueKind) -> timedelta:
        return self.acknowledge if kind is OverdueKind.ACKNOWLEDGE else self.act


_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
DEFAULT_WINDOWS: dict[Priority, Windows] = {
    Priority.STAT: Windows(acknowledge=1 * _HOUR, act=4 * _HOUR),
    Priority.ASAP: Windows(acknowledge=4 * _HOUR, act=24 * _HOUR),
    Priority.URGENT: Windows(acknowledge=24 * _HOUR, act=3 * _DAY),
    Priority.ROUTINE: Windows(acknowledge=3 * _DAY, act=14 * _DAY),
}


@dataclass(frozen=True)
class OverdueWindows:
    """The windows of every priority; a priority left out is never overdue (refused here)."""

    by_priority: Mapping[Priority, Windows]

    def __post_init__(self) -> None:
        missing = set(Priority) - set(self.by_priority)
        if missing:
            raise ValueError(f"no overdue windows for {sorted(missing)}")

    def window(self, priority: Priority, kind: OverdueKind) -> timedelta:
        return self.by_priority[priority].for_kind(kind)

    def rows(self) -> list[tuple[Status, Priority, OverdueKind, timedelta]]:
        """Every (waiting status, priority, kind, window): what a query looks up."""
        return [
            (status, priority, kind, self.window(priority, kind))
            for kind, status in WAITING_STATUS.items()
            for priority in Priority
        ]


@dataclass(frozen=True)
class WaitingReferral:
    """What the windows need of a referral: its status version, priority and parties."""

    referral_id: UUID
    version: int
    status: Status
    priority: Priority
    requester_organization_id: str
    recipient_organization_id: str
    # When it entered its status.
    since: datetime


def waiting(referral: Referral) -> WaitingReferral:
    return WaitingReferral(
        referral_id=referral.referral_id,
        version=referral.version,
        status=referral.status,
        priority=referral.priority,
        requester_organization_id=referral.requester.organization_id,
        recipient_organization_id=referral.recipient.organization_id,
        since=referral.update_time,
    )


@dataclass(frozen=True)
class OverdueState:
    """A referral that missed a window at one status version: raised once, then kept."""

    referral_id: UUID
    version: int
    kind: OverdueKind
    status: Status
    priority: Priority
    requester_organization_id: str
    recipient_organization_id: str
    due_time: datetime

    @property
    def key(self) -> tuple[UUID, int, OverdueKind]:
        return (self.referral_id, self.version, self.kind)


def deadline(
    referral: WaitingReferral, windows: OverdueWindows
) -> tuple[OverdueKind, datetime] | None:
    """The window the referral is in now and when it ends; None when its status has none."""
    kind = _KIND_FOR_STATUS.get(referral.status)
    if kind is None:
        return None
    return kind, referral.since + windows.window(referral.priority, kind)


def overdue_state(
    referral: WaitingReferral, windows: OverdueWindows, now: datetime
) -> OverdueState | None:
    """The referral's overdue state at `now`: due at or before `now` counts as overdue."""
    found = deadline(referral, windows)
    if found is None:
        return None
    kind, due = found
    if due > now:
        return None
    return OverdueState(
        referral_id=referral.referral_id,
        version=referral.version,
        kind=kind,
        status=referral.status,
        priority=referral.priority,
        requester_organization_id=referral.requester_organization_id,
        recipient_organization_id=referral.recipient_organization_id,
        due_time=due,
    )


def newly_overdue(
    referrals: list[WaitingReferral],
    windows: OverdueWindows,
    now: datetime,
    already_raised: set[tuple[UUID, int, OverdueKind]],
) -> list[OverdueState]:
    """The overdue states at `now` not raised before (by key), each once, earliest due first."""
    found: dict[tuple[UUID, int, OverdueKind], OverdueState] = {}
    for referral in referrals:
        state = overdue_state(referral, windows, now)
        if state is not None and state.key not in already_raised:
            found.setdefault(state.key, state)
    return sorted(found.values(), key=lambda s: (s.due_time, str(s.referral_id)))


def is_current(state: OverdueState, referral: Referral | WaitingReferral) -> bool:
    """Whether the referral is still in the status version that was overdue: any status
    change since resolves it (and clears it from the worklist)."""
    return referral.referral_id == state.referral_id and referral.version == state.version


@dataclass(frozen=True)
class ReferralOverdue(DomainEvent):
    """A referral missed a window; raised once per `state.key`."""

    state: OverdueState
    detect_time: datetime
