"""Referrals as JSON: what a client sends (unknown fields refused) and what it gets back."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ..clients.referrals import (
    Category,
    Direction,
    NewReferral,
    Party,
    PartyKind,
    Priority,
    ReadDisclosure,
    ReadView,
    Referral,
    ReferralPage,
    ReferralQuery,
    Status,
    StatusChange,
    StatusReasonCategory,
)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

_EXAMPLE: dict[str, JsonValue] = {
    "subject_member_id": "member-demo-ava",
    "direction": "peer_support_to_clinic",
    "category": "medication_for_opioid_use_disorder",
    "priority": "urgent",
    "reason": "Asked for help starting buprenorphine after a peer session.",
    "requester": {
        "kind": "peer_support_program",
        "organization_id": "program-harbour",
        "display_name": "Harbour Peer Recovery (demo)",
    },
    "recipient": {
        "kind": "clinic",
        "organization_id": "clinic-northside",
        "display_name": "Northside Health Clinic (demo)",
    },
}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartyIn(_Input):
    """An organization that sends or receives a referral, with an optional contact person."""

    kind: PartyKind
    organization_id: str = Field(min_length=1)
    display_name: str = Field(min_length=1)
    practitioner_id: str | None = Field(default=None, min_length=1)

    def to_port(self) -> Party:
        return Party(self.kind, self.organization_id, self.display_name, self.practitioner_id)


class ReferralIn(_Input):
    """A new referral of one member, between a peer support program and a clinic."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    subject_member_id: str = Field(min_length=1, description="The member who is referred.")
    direction: Direction
    category: Category
    priority: Priority = Field(description="FHIR request priority.")
    reason: str = Field(min_length=1, description="Why, in free text (protected data).")
    requester: PartyIn
    recipient: PartyIn

    def to_port(self) -> NewReferral:
        return NewReferral(
            subject_member_id=self.subject_member_id,
            direction=self.direction,
            category=self.category,
            priority=self.priority,
            reason=self.reason,
            requester=self.requester.to_port(),
            recipient=self.recipient.to_port(),
        )


class ReferralListQuery(_Input):
    """Query parameters of the referral list; unknown parameters are refused."""

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(
        default=None, min_length=1, description="`next_cursor` of the previous page."
    )
    subject_member_id: str | None = Field(default=None, min_length=1)
    status: Status | None = None

    def to_port(self) -> ReferralQuery:
        return ReferralQuery(
            limit=self.limit,
            cursor=self.cursor,
            subject_member_id=self.subject_member_id,
            status=self.status,
        )


class StatusChangeIn(_Input):
    """A move of the referral to another FHIR Task status. The requester sets draft,
    requested and entered-in-error; the receiving party accepted, rejected,
    in-progress, on-hold, failed and completed; either side may cancel."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "accepted", "expected_version": 1},
                {
                    "status": "rejected",
                    "reason": "No openings this month.",
                    "reason_category": "no_capacity",
                    "expected_version": 1,
                },
            ]
        }
    )

    status: Status
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Why (Task.statusReason): required for rejected, cancelled, on-hold and "
        "failed; short and non-clinical.",
    )
    reason_category: StatusReasonCategory | None = Field(
        default=None, description="The code of `reason`; needs `reason`."
    )
    outcome: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="What came of it (Task.output): required for completed, only there.",
    )
    expected_version: int | None = Field(
        default=None,
        ge=1,
        description="The `version` you read: the change is refused (409) if the referral "
        "changed since.",
    )

    def to_port(self, referral_id: str) -> StatusChange:
        return StatusChange(
            referral_id=referral_id,
            status=self.status,
            reason=self.reason,
            reason_category=self.reason_category,
            outcome=self.outcome,
            expected_version=self.expected_version,
        )


class PartyOut(BaseModel):
    kind: PartyKind
    organization_id: str
    display_name: str
    practitioner_id: str | None

    @classmethod
    def from_port(cls, party: Party) -> PartyOut:
        return cls(
            kind=party.kind,
            organization_id=party.organization_id,
            display_name=party.display_name,
            practitioner_id=party.practitioner_id,
        )


class DisclosureOut(BaseModel):
    """What a read returned of the referral. Someone of the recipient organization of a
    referral a peer support program sent reads it whole only under the member's consent
    (42 CFR Part 2); otherwise `redacted`: `subject_member_id`, `reason`, `status_reason`,
    `status_reason_category`, `outcome` and the requester's `practitioner_id` are empty or
    null and `category` is null, and `reason` here says why."""

    view: ReadView
    reason: str = Field(description="Why: the consent it was disclosed under, or what is missing.")

    @classmethod
    def from_port(cls, disclosure: ReadDisclosure) -> DisclosureOut:
        return cls(view=disclosure.view, reason=disclosure.reason)


class ReferralOut(BaseModel):
    """A referral as stored, or redacted as `disclosure` says; `status` is a FHIR Task
    status code."""

    referral_id: str
    subject_member_id: str
    direction: Direction
    category: Category | None = Field(description="Null when withheld (see `disclosure`).")
    priority: Priority
    reason: str
    requester: PartyOut
    recipient: PartyOut
    status: Status
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Starts at 1 and goes up by one on every change.")
    status_reason: str | None = Field(
        default=None, description="Why it has its status (Task.statusReason)."
    )
    status_reason_category: StatusReasonCategory | None = None
    outcome: str | None = Field(default=None, description="What came of it (Task.output).")
    disclosure: DisclosureOut | None = Field(
        default=None,
        description="On reads by the recipient organization: whether the referral came "
        "whole (under the member's consent) or redacted, and why; null when the read "
        "disclosed nothing (the requesting side's reads, the member's own).",
    )

    @classmethod
    def from_port(cls, referral: Referral) -> ReferralOut:
        return cls(
            referral_id=referral.referral_id,
            subject_member_id=referral.subject_member_id,
            direction=referral.direction,
            category=referral.category,
            priority=referral.priority,
            reason=referral.reason,
            requester=PartyOut.from_port(referral.requester),
            recipient=PartyOut.from_port(referral.recipient),
            status=referral.status,
            created_at=referral.created_at,
            updated_at=referral.updated_at,
            version=referral.version,
            status_reason=referral.status_reason,
            status_reason_category=referral.status_reason_category,
            outcome=referral.outcome,
            disclosure=(
                DisclosureOut.from_port(referral.disclosure)
                if referral.disclosure is not None
                else None
            ),
        )


class ReferralPageOut(BaseModel):
    """One page of referrals, newest first; `next_cursor` is null on the last page."""

    items: list[ReferralOut]
    next_cursor: str | None

    @classmethod
    def from_port(cls, page: ReferralPage) -> ReferralPageOut:
        return cls(
            items=[ReferralOut.from_port(r) for r in page.items], next_cursor=page.next_cursor
        )
