"""Commands: orders from outside, in plain values, not yet checked.

Enumerations arrive as their lower-case names ("" when the caller left them
unset), so every entry point (gRPC, a consumer, a test) speaks the same
language and the domain reports every bad field at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PartyInput:
    kind: str
    organization_id: str
    display_name: str
    practitioner_id: str | None = None


@dataclass(frozen=True)
class CreateReferral:
    request_id: str
    subject_member_id: str
    direction: str
    category: str
    priority: str
    reason: str
    requester: PartyInput | None
    recipient: PartyInput | None


@dataclass(frozen=True)
class UpdateReferralStatus:
    referral_id: str
    status: str
    status_reason: str = ""
    # "" when the caller gave no category.
    status_reason_category: str = ""
    outcome: str = ""
    # The version the caller read; 0 asks for no check.
    expected_version: int = 0


@dataclass(frozen=True)
class ConsentTermsInput:
    """A consent's elements as the caller sent them; lists of enum names, times as given
    (None when unset)."""

    subject_member_id: str = ""
    disclosing_organization_id: str = ""
    categories: tuple[str, ...] = ()
    recipient_organization_ids: tuple[str, ...] = ()
    recipient_classes: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    revocation_instructions: str = ""
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    expiry_event: str = ""
    capture_method: str = ""
    witness_name: str = ""
    signed_at: datetime | None = None


@dataclass(frozen=True)
class RecordConsent:
    request_id: str
    terms: ConsentTermsInput | None


@dataclass(frozen=True)
class RevokeConsent:
    consent_id: str
    reason: str = ""
