"""The Referral aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from .events import ReferralCreated
from .values import Category, Direction, Party, Priority, Status, StatusReasonCategory


@dataclass(frozen=True)
class ReferralDetails:
    """What the requester asks for: everything a create request decides.

    Two create requests with the same request id must carry equal details.
    """

    subject_member_id: str
    direction: Direction
    category: Category
    priority: Priority
    reason: str
    requester: Party
    recipient: Party


@dataclass(frozen=True)
class Referral:
    referral_id: UUID
    request_id: str | None
    subject_member_id: str
    direction: Direction
    category: Category
    priority: Priority
    reason: str
    requester: Party
    recipient: Party
    status: Status
    create_time: datetime
    update_time: datetime
    version: int
    # Why the referral has its current status (short, non-clinical) and its code;
    # None when the current status came without one.
    status_reason: str | None = None
    status_reason_category: StatusReasonCategory | None = None
    # What came of it: set when the referral is completed.
    outcome: str | None = None

    @property
    def details(self) -> ReferralDetails:
        return ReferralDetails(
            subject_member_id=self.subject_member_id,
            direction=self.direction,
            category=self.category,
            priority=self.priority,
            reason=self.reason,
            requester=self.requester,
            recipient=self.recipient,
        )


def open_referral(
    details: ReferralDetails, *, referral_id: UUID, request_id: str | None, now: datetime
) -> tuple[Referral, ReferralCreated]:
    """A new referral, sent and waiting for the recipient (REQUESTED), and the fact of it."""
    referral = Referral(
        referral_id=referral_id,
        request_id=request_id or None,
        subject_member_id=details.subject_member_id,
        direction=details.direction,
        category=details.category,
        priority=details.priority,
        reason=details.reason,
        requester=details.requester,
        recipient=details.recipient,
        status=Status.REQUESTED,
        create_time=now,
        update_time=now,
        version=1,
    )
    return referral, ReferralCreated(referral=referral)
