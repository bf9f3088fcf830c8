"""An organization's worklist as JSON."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ..clients.referrals import Category, Priority, Status, StatusReasonCategory
from ..clients.worklist import (
    ItemKind,
    OverdueKind,
    WorklistItem,
    WorklistPage,
    WorklistQuery,
    WorklistSide,
)
from .referrals import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


class WorklistListQuery(BaseModel):
    """Query parameters of the worklist; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organization_id: str = Field(min_length=1, description="The caller's own organization.")
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(
        default=None, min_length=1, description="`next_cursor` of the previous page."
    )

    def to_port(self) -> WorklistQuery:
        return WorklistQuery(
            organization_id=self.organization_id, limit=self.limit, cursor=self.cursor
        )


class SeenIn(BaseModel):
    """Marks a closed-loop item seen; the body is an empty object."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WorklistItemOut(BaseModel):
    """Why a referral needs the organization's attention; read it with GET /v1/referrals/{id}
    (a completed referral's outcome is there)."""

    item_id: str = Field(description="Give it to POST /v1/worklist/{item_id}/seen.")
    referral_id: str
    subject_member_id: str
    kind: ItemKind = Field(description="overdue, or loop_closed (the referral reached an end).")
    overdue_kind: OverdueKind | None = Field(
        description="acknowledge (still requested) or act (accepted, not started); null when"
        " the loop closed."
    )
    side: WorklistSide = Field(
        description="requester: waiting on the other side; recipient: an answer is owed."
    )
    priority: Priority
    status: Status
    category: Category
    counterpart_organization_id: str
    item_time: datetime = Field(description="The missed deadline, or when the loop closed.")
    status_reason_category: StatusReasonCategory | None

    @classmethod
    def from_port(cls, item: WorklistItem) -> WorklistItemOut:
        return cls(
            item_id=item.item_id,
            referral_id=item.referral_id,
            subject_member_id=item.subject_member_id,
            kind=item.kind,
            overdue_kind=item.overdue_kind,
            side=item.side,
            priority=item.priority,
            status=item.status,
            category=item.category,
            counterpart_organization_id=item.counterpart_organization_id,
            item_time=item.item_time,
            status_reason_category=item.status_reason_category,
        )


class WorklistPageOut(BaseModel):
    """One page of the worklist, oldest first; `next_cursor` is null on the last page."""

    items: list[WorklistItemOut]
    next_cursor: str | None

    @classmethod
    def from_port(cls, page: WorklistPage) -> WorklistPageOut:
        return cls(
            items=[WorklistItemOut.from_port(i) for i in page.items], next_cursor=page.next_cursor
        )
