"""Break-the-glass (42 CFR 2.51) as JSON: the request, the record and the review."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ..clients.emergency import (
    EmergencyAccess,
    EmergencyDisclosure,
    EmergencyPage,
    EmergencyQuery,
    EmergencyRequest,
)
from .referrals import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ReferralOut


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmergencyAccessIn(_Input):
    """A clinician treating the member in a bona fide medical emergency asks for the whole
    referral without the member's consent. Recorded at once and flagged for review."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "nature_of_emergency": "Unresponsive on arrival, suspected opioid overdose.",
                    "recipient_facility": "Northside Emergency Department",
                }
            ]
        }
    )

    nature_of_emergency: str = Field(
        min_length=1, max_length=1000, description="What the emergency is (required)."
    )
    recipient_facility: str = Field(
        default="", max_length=200, description="Where the clinician treats the member."
    )

    def to_port(self, referral_id: str) -> EmergencyRequest:
        return EmergencyRequest(referral_id, self.nature_of_emergency, self.recipient_facility)


class EmergencyDisclosureOut(BaseModel):
    """The record 42 CFR 2.51(c) requires, and its review by the disclosing program."""

    emergency_disclosure_id: str
    referral_id: str
    subject_member_id: str
    recipient_person_id: str = Field(description="The clinician who received it.")
    recipient_organization_id: str = Field(description="The clinician's organization.")
    recipient_facility: str
    disclosing_organization_id: str = Field(description="The program that disclosed.")
    disclosed_at: datetime
    nature_of_emergency: str
    reviewed: bool
    reviewed_at: datetime | None
    reviewed_by: str | None
    review_note: str | None

    @classmethod
    def from_port(cls, record: EmergencyDisclosure) -> EmergencyDisclosureOut:
        return cls(
            emergency_disclosure_id=record.emergency_disclosure_id,
            referral_id=record.referral_id,
            subject_member_id=record.subject_member_id,
            recipient_person_id=record.recipient_person_id,
            recipient_organization_id=record.recipient_organization_id,
            recipient_facility=record.recipient_facility,
            disclosing_organization_id=record.disclosing_organization_id,
            disclosed_at=record.disclosed_at,
            nature_of_emergency=record.nature_of_emergency,
            reviewed=record.reviewed_at is not None,
            reviewed_at=record.reviewed_at,
            reviewed_by=record.reviewed_by,
            review_note=record.review_note,
        )


class EmergencyAccessOut(BaseModel):
    """The whole referral and the record of its disclosure."""

    referral: ReferralOut
    emergency_disclosure: EmergencyDisclosureOut

    @classmethod
    def from_port(cls, access: EmergencyAccess) -> EmergencyAccessOut:
        return cls(
            referral=ReferralOut.from_port(access.referral),
            emergency_disclosure=EmergencyDisclosureOut.from_port(access.disclosure),
        )


class EmergencyListQuery(BaseModel):
    """Query parameters of a program's emergency disclosures; unknown ones are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organization_id: str = Field(min_length=1, description="The disclosing program; required.")
    unreviewed_only: bool = Field(default=False, description="Only those not reviewed yet.")
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(
        default=None, min_length=1, description="`next_cursor` of the previous page."
    )

    def to_port(self) -> EmergencyQuery:
        return EmergencyQuery(self.organization_id, self.unreviewed_only, self.limit, self.cursor)


class EmergencyPageOut(BaseModel):
    """One page of emergency disclosures, newest first; `next_cursor` is null on the last."""

    items: list[EmergencyDisclosureOut]
    next_cursor: str | None

    @classmethod
    def from_port(cls, page: EmergencyPage) -> EmergencyPageOut:
        return cls(
            items=[EmergencyDisclosureOut.from_port(r) for r in page.items],
            next_cursor=page.next_cursor,
        )


class ReviewIn(_Input):
    """What the review of an emergency disclosure found."""

    note: str = Field(min_length=1, max_length=1000)
