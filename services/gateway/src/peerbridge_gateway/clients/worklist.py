"""The worklist port: an organization's overdue referrals and closed loops, as the gateway
asks the referrals service for them, in its own types.

Who may read which organization's worklist is the service's rule (its coordinators and
supervisors): anyone else gets an empty page, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from peerbridge_platform.grpc import Caller

from .referrals import Category, Priority, Status, StatusReasonCategory


class ItemKind(StrEnum):
    OVERDUE = "overdue"
    LOOP_CLOSED = "loop_closed"


class OverdueKind(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ACT = "act"


class WorklistSide(StrEnum):
    REQUESTER = "requester"
    RECIPIENT = "recipient"


@dataclass(frozen=True)
class WorklistItem:
    item_id: str
    referral_id: str
    subject_member_id: str
    kind: ItemKind
    overdue_kind: OverdueKind | None
    side: WorklistSide
    priority: Priority
    status: Status
    category: Category
    counterpart_organization_id: str
    item_time: datetime
    status_reason_category: StatusReasonCategory | None


@dataclass(frozen=True)
class WorklistQuery:
    organization_id: str
    limit: int
    cursor: str | None = None


@dataclass(frozen=True)
class WorklistPage:
    items: list[WorklistItem]
    next_cursor: str | None


class WorklistClient(Protocol):
    """The worklist in the referrals service. Failures raise `ServiceError`."""

    async def list_worklist(self, query: WorklistQuery, *, caller: Caller) -> WorklistPage: ...

    async def mark_seen(self, item_id: str, *, caller: Caller) -> None:
        """Clear a closed-loop item; NOT_FOUND when it is not on the caller's worklist."""
