"""A member's accounting of disclosures (42 CFR 2.24) as JSON."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ..clients.disclosures import Disclosure, DisclosurePage, DisclosureQuery
from .consents import MemberListQuery


class DisclosureListQuery(MemberListQuery):
    """Query parameters of the disclosure list."""

    def to_port(self) -> DisclosureQuery:
        return DisclosureQuery(
            subject_member_id=self.subject_member_id, limit=self.limit, cursor=self.cursor
        )


class DisclosureOut(BaseModel):
    """One disclosure of the member's records: to whom, when, what, under which consent."""

    disclosure_id: str
    referral_id: str = Field(description="The referral whose details were disclosed.")
    recipient_organization_id: str = Field(description="Who received them.")
    consent_id: str = Field(description="The member's consent it was made under.")
    purpose: str = Field(description='HL7 v3 PurposeOfUse code, e.g. "TREAT".')
    category: str = Field(description='What kind of information, e.g. "referral_details".')
    description: str = Field(description="A brief description of what was disclosed.")
    disclosed_at: datetime

    @classmethod
    def from_port(cls, disclosure: Disclosure) -> DisclosureOut:
        return cls(
            disclosure_id=disclosure.disclosure_id,
            referral_id=disclosure.referral_id,
            recipient_organization_id=disclosure.recipient_organization_id,
            consent_id=disclosure.consent_id,
            purpose=disclosure.purpose,
            category=disclosure.category,
            description=disclosure.description,
            disclosed_at=disclosure.disclosed_at,
        )


class DisclosurePageOut(BaseModel):
    """One page of a member's disclosures, newest first; `next_cursor` is null on the last
    page."""

    items: list[DisclosureOut]
    next_cursor: str | None

    @classmethod
    def from_port(cls, page: DisclosurePage) -> DisclosurePageOut:
        return cls(
            items=[DisclosureOut.from_port(d) for d in page.items], next_cursor=page.next_cursor
        )
