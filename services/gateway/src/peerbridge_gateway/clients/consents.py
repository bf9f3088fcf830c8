"""The consents port: a member's consent to disclose (42 CFR 2.31), as the gateway asks the
referrals service for it, in its own types.

Enum values are the lower-case codes of the HTTP API; member names match the protobuf
enums without their prefix. Whether the terms hold every 2.31 element is the service's
to decide, so unset elements stay unset here (empty or None) and reach it as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from peerbridge_platform.grpc import Caller


class InformationCategory(StrEnum):
    REFERRAL_DETAILS = "referral_details"
    SUBSTANCE_USE_TREATMENT = "substance_use_treatment"
    CONTACT_DETAILS = "contact_details"


class Purpose(StrEnum):
    """HL7 v3 PurposeOfUse codes, lower-case."""

    TREAT = "treat"
    COC = "coc"
    CAREMGT = "caremgt"
    HPAYMT = "hpaymt"
    HOPERAT = "hoperat"


class RecipientClass(StrEnum):
    TREATING_PROVIDERS = "treating_providers"


class CaptureMethod(StrEnum):
    SIGNED_ELECTRONICALLY = "signed_electronically"
    SIGNED_ON_PAPER = "signed_on_paper"
    VERBAL_WITH_WITNESS = "verbal_with_witness"


class ConsentStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True)
class ConsentTerms:
    subject_member_id: str
    disclosing_organization_id: str
    categories: tuple[InformationCategory, ...]
    recipient_organization_ids: tuple[str, ...]
    recipient_classes: tuple[RecipientClass, ...]
    purposes: tuple[Purpose, ...]
    revocation_instructions: str
    valid_from: datetime | None
    expires_at: datetime | None
    expiry_event: str | None
    capture_method: CaptureMethod | None
    witness_name: str | None
    signed_at: datetime | None


@dataclass(frozen=True)
class Consent:
    consent_id: str
    terms: ConsentTerms
    status: ConsentStatus
    recorded_by: str
    created_at: datetime
    version: int
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revocation_reason: str | None = None


@dataclass(frozen=True)
class ConsentQuery:
    subject_member_id: str
    limit: int
    cursor: str | None = None


@dataclass(frozen=True)
class ConsentPage:
    items: list[Consent]
    next_cursor: str | None


class ConsentsClient(Protocol):
    """Consents in the referrals service. Failures raise `ServiceError`."""

    async def record_consent(
        self, terms: ConsentTerms, *, caller: Caller, idempotency_key: str | None
    ) -> Consent:
        """Record a consent; one `idempotency_key` of one caller always yields the same one."""
        ...

    async def revoke_consent(
        self, consent_id: str, reason: str | None, *, caller: Caller
    ) -> Consent:
        """Revoke at once; revoking a revoked consent returns it unchanged."""
        ...

    async def get_consent(self, consent_id: str, *, caller: Caller) -> Consent: ...

    async def list_consents(self, query: ConsentQuery, *, caller: Caller) -> ConsentPage: ...
