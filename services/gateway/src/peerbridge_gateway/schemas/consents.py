"""Consents to disclose (42 CFR 2.31) as JSON: the terms a client sends (unknown fields and
codes refused with 422) and the consent it gets back.

Every element is optional here on purpose: whether the terms hold each one 2.31 requires
is the referrals service's rule, and it names every missing or bad one at once (400).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from ..clients.consents import (
    CaptureMethod,
    Consent,
    ConsentPage,
    ConsentQuery,
    ConsentStatus,
    ConsentTerms,
    InformationCategory,
    Purpose,
    RecipientClass,
)
from .referrals import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

_EXAMPLE: dict[str, JsonValue] = {
    "subject_member_id": "member-demo-ava",
    "disclosing_organization_id": "program-harbour",
    "categories": ["referral_details", "substance_use_treatment"],
    "recipient_organization_ids": ["clinic-northside"],
    "purposes": ["treat", "coc"],
    "revocation_instructions": "Tell your peer supporter or write to the program; "
    "it stops future disclosures at once.",
    "valid_from": "2026-01-05T09:00:00+00:00",
    "expires_at": "2027-01-05T09:00:00+00:00",
    "capture_method": "signed_electronically",
    "signed_at": "2026-01-05T09:00:00+00:00",
}


class ConsentTermsBody(BaseModel):
    """What the member agrees to: every element of 42 CFR 2.31. Times are ISO 8601 with an
    offset. In a request, unknown fields are refused."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [_EXAMPLE]}
    )

    subject_member_id: str | None = Field(
        default=None, description="The member whose information is disclosed."
    )
    disclosing_organization_id: str | None = Field(
        default=None, description="Who may disclose: the program's organization id."
    )
    categories: list[InformationCategory] = Field(
        default_factory=list, description="What may be disclosed; at least one."
    )
    recipient_organization_ids: list[str] = Field(
        default_factory=list,
        description="Recipients by organization id; with `recipient_classes`, at least one.",
    )
    recipient_classes: list[RecipientClass] = Field(default_factory=list)
    purposes: list[Purpose] = Field(
        default_factory=list, description="Each purpose (HL7 PurposeOfUse); at least one."
    )
    revocation_instructions: str | None = Field(
        default=None, description="The member's right to revoke and how, as told to them."
    )
    valid_from: AwareDatetime | None = None
    expires_at: AwareDatetime | None = Field(
        default=None, description="When it expires; needed unless `expiry_event` is given."
    )
    expiry_event: str | None = Field(
        default=None, description="The event on which it expires, instead of `expires_at`."
    )
    capture_method: CaptureMethod | None = None
    witness_name: str | None = Field(
        default=None, description="Required for verbal_with_witness, refused otherwise."
    )
    signed_at: AwareDatetime | None = Field(default=None, description="Not in the future.")

    def to_port(self) -> ConsentTerms:
        return ConsentTerms(
            subject_member_id=self.subject_member_id or "",
            disclosing_organization_id=self.disclosing_organization_id or "",
            categories=tuple(self.categories),
            recipient_organization_ids=tuple(self.recipient_organization_ids),
            recipient_classes=tuple(self.recipient_classes),
            purposes=tuple(self.purposes),
            revocation_instructions=self.revocation_instructions or "",
            valid_from=self.valid_from,
            expires_at=self.expires_at,
            expiry_event=self.expiry_event,
            capture_method=self.capture_method,
            witness_name=self.witness_name,
            signed_at=self.signed_at,
        )

    @classmethod
    def from_port(cls, terms: ConsentTerms) -> ConsentTermsBody:
        return cls(
            subject_member_id=terms.subject_member_id,
            disclosing_organization_id=terms.disclosing_organization_id,
            categories=list(terms.categories),
            recipient_organization_ids=list(terms.recipient_organization_ids),
            recipient_classes=list(terms.recipient_classes),
            purposes=list(terms.purposes),
            revocation_instructions=terms.revocation_instructions,
            valid_from=terms.valid_from,
            expires_at=terms.expires_at,
            expiry_event=terms.expiry_event,
            capture_method=terms.capture_method,
            witness_name=terms.witness_name,
            signed_at=terms.signed_at,
        )


class RevocationIn(BaseModel):
    """A revocation; it takes effect at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Why, optional: short and non-clinical.",
    )


class MemberListQuery(BaseModel):
    """Query parameters of a list of one member's records; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject_member_id: str = Field(min_length=1, description="The member; required.")
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(
        default=None, min_length=1, description="`next_cursor` of the previous page."
    )


class ConsentListQuery(MemberListQuery):
    """Query parameters of the consent list."""

    def to_port(self) -> ConsentQuery:
        return ConsentQuery(
            subject_member_id=self.subject_member_id, limit=self.limit, cursor=self.cursor
        )


class ConsentOut(BaseModel):
    """A recorded consent and where it stands (whether it has expired is read from its
    dates: `status` says only whether it was revoked)."""

    consent_id: str
    terms: ConsentTermsBody
    status: ConsentStatus
    recorded_by: str = Field(description="The member, or staff of the program for them.")
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    revocation_reason: str | None
    version: int = Field(description="1 when recorded, 2 once revoked.")

    @classmethod
    def from_port(cls, consent: Consent) -> ConsentOut:
        return cls(
            consent_id=consent.consent_id,
            terms=ConsentTermsBody.from_port(consent.terms),
            status=consent.status,
            recorded_by=consent.recorded_by,
            created_at=consent.created_at,
            revoked_at=consent.revoked_at,
            revoked_by=consent.revoked_by,
            revocation_reason=consent.revocation_reason,
            version=consent.version,
        )


class ConsentPageOut(BaseModel):
    """One page of a member's consents, newest first; `next_cursor` is null on the last page."""

    items: list[ConsentOut]
    next_cursor: str | None

    @classmethod
    def from_port(cls, page: ConsentPage) -> ConsentPageOut:
        return cls(
            items=[ConsentOut.from_port(c) for c in page.items], next_cursor=page.next_cursor
        )
