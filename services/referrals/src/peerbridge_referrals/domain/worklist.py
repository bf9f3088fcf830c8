"""The coordinator's worklist of one organization, and who may read it: pure.

An organization's worklist holds
- its referrals that are overdue, on either side: as requester ("waiting on the other
  side") or as recipient ("we owe an answer"), for as long as the referral stays in the
  status version that was overdue;
- the referrals it requested whose loop closed (completed with an outcome, rejected,
  failed or cancelled) within the recent period, until someone marks them seen.

Coordinators and supervisors read their own organization's worklist and mark its
closed-loop items seen; anyone else asking gets an empty page (audited as denied), as a
listing of another member's records does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from peerbridge_platform.auth.principal import Principal, Role

from .overdue import OverdueKind
from .values import Category, Priority, Status, StatusReasonCategory


class WorklistItemKind(StrEnum):
    OVERDUE = "overdue"
    LOOP_CLOSED = "loop_closed"


class Side(StrEnum):
    REQUESTER = "requester"
    RECIPIENT = "recipient"


# The final statuses that close the loop for the requester (entered-in-error is the
# requester's own correction: nothing to follow up).
LOOP_CLOSING: frozenset[Status] = frozenset(
    {Status.COMPLETED, Status.REJECTED, Status.FAILED, Status.CANCELLED}
)

_WORKLIST_ROLES = frozenset({Role.COORDINATOR, Role.SUPERVISOR})


@dataclass(frozen=True)
class WorklistItem:
    """One entry: ids and codes, never free text (the outcome is read with GetReferral)."""

    referral_id: UUID
    subject_member_id: str
    kind: WorklistItemKind
    overdue_kind: OverdueKind | None
    side: Side
    priority: Priority
    status: Status
    category: Category
    counterpart_organization_id: str
    # The missed deadline, or when the loop closed: the worklist's order.
    item_time: datetime
    status_reason_category: StatusReasonCategory | None = None

    @property
    def item_id(self) -> str:
        # A referral is on a worklist at most once: overdue only while open, closed after.
        return str(self.referral_id)


def side_of(organization_id: str, requester_id: str, recipient_id: str) -> Side | None:
    if organization_id == requester_id:
        return Side.REQUESTER
    if organization_id == recipient_id:
        return Side.RECIPIENT
    return None


def worklist_organization(principal: Principal) -> str | None:
    """The organization whose worklist the caller may read, or None for no worklist."""
    if principal.organization_id and not principal.roles.isdisjoint(_WORKLIST_ROLES):
        return principal.organization_id
    return None


def may_read_worklist(principal: Principal, organization_id: str) -> bool:
    return worklist_organization(principal) == organization_id
