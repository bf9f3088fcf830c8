"""A member's consent to disclose under 42 CFR 2.31, and whether it covers a disclosure.

Pure: no I/O, the time is always given. A consent holds every element 2.31
requires: the member; who may disclose (the program); a specific description
of the information (`InformationCategory`, a closed list); the recipients by
name (organization ids) or class; each purpose (HL7 PurposeOfUse); the right
to revoke and how; an expiry date or event; how it was captured and when it
was signed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from peerbridge_platform.errors import FieldViolation, InvalidArgument

from .commands import ConsentTermsInput
from .rules import E, check_opaque_id, parse_choice

INSTRUCTIONS_MAX_CHARS = 1000
EXPIRY_EVENT_MAX_CHARS = 200
WITNESS_NAME_MAX_CHARS = 200
REVOCATION_REASON_MAX_CHARS = 200
MAX_RECIPIENTS = 50


class InformationCategory(StrEnum):
    """What may be disclosed. Closed on purpose: a recipient must be able to tell exactly
    which information a consent lets reach it."""

    # That a referral exists and what it asks for: category, priority, status, reason.
    REFERRAL_DETAILS = "referral_details"
    # Diagnoses, treatment history, medications for substance use disorders.
    SUBSTANCE_USE_TREATMENT = "substance_use_treatment"
    # How to reach the member.
    CONTACT_DETAILS = "contact_details"


class ConsentPurpose(StrEnum):
    """HL7 v3 PurposeOfUse codes a consent may name; the code is the member's name."""

    TREAT = "treat"
    COC = "coc"
    CAREMGT = "caremgt"
    HPAYMT = "hpaymt"
    HOPERAT = "hoperat"

    @property
    def code(self) -> str:
        return self.name


class RecipientClass(StrEnum):
    # An organization that a disclosure asks to treat the member (a referral's recipient).
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
    """What the member agreed to; two record requests with one request id carry equal terms."""

    subject_member_id: str
    disclosing_organization_id: str
    categories: frozenset[InformationCategory]
    recipient_organization_ids: frozenset[str]
    recipient_classes: frozenset[RecipientClass]
    purposes: frozenset[ConsentPurpose]
    revocation_instructions: str
    valid_from: datetime
    expires_at: datetime | None
    expiry_event: str | None
    capture_method: CaptureMethod
    witness_name: str | None
    signed_at: datetime


@dataclass(frozen=True)
class Consent:
    consent_id: UUID
    request_id: str | None
    terms: ConsentTerms
    status: ConsentStatus
    recorded_by: str
    create_time: datetime
    version: int = 1
    revoke_time: datetime | None = None
    revoked_by: str | None = None
    revocation_reason: str | None = None

    @property
    def subject_member_id(self) -> str:
        return self.terms.subject_member_id

    def names_organization(self, organization_id: str) -> bool:
        return organization_id in self.terms.recipient_organization_ids


def covers(
    consent: Consent,
    recipient_organization_id: str,
    purpose: ConsentPurpose,
    category: InformationCategory,
    at: datetime,
    *,
    recipient_classes: frozenset[RecipientClass] = frozenset(),
) -> bool:
    """Whether `consent` lets its program disclose `category` to this recipient, for
    `purpose`, at `at`.

    `recipient_classes` are the classes the recipient belongs to for this disclosure
    (the caller knows: a referral's recipient is asked to treat the member); a consent
    naming one of them covers the recipient as if it named the organization.
    A revoked consent covers nothing from its revocation on; an expiry event (not a
    date) is told to us by a revocation, so such a consent holds until revoked.
    """
    terms = consent.terms
    if at < terms.valid_from:
        return False
    if terms.expires_at is not None and at >= terms.expires_at:
        return False
    if consent.revoke_time is not None and at >= consent.revoke_time:
        return False
    named = recipient_organization_id in terms.recipient_organization_ids
    if not (named or recipient_classes & terms.recipient_classes):
        return False
    return purpose in terms.purposes and category in terms.categories


def revoke(consent: Consent, *, by: str, reason: str | None, now: datetime) -> Consent:
    """The consent revoked at `now`; a revoked consent stays as it was (revoking twice is
    fine and changes nothing)."""
    if consent.status is ConsentStatus.REVOKED:
        return consent
    return replace(
        consent,
        status=ConsentStatus.REVOKED,
        revoke_time=now,
        revoked_by=by,
        revocation_reason=reason,
        version=consent.version + 1,
    )


def validate_consent_terms(given: ConsentTermsInput | None, *, now: datetime) -> ConsentTerms:
    """The checked terms, or InvalidArgument with one violation per missing or bad element."""
    if given is None:
        raise InvalidArgument("the consent is not valid", [FieldViolation("terms", "is required")])
    violations: list[FieldViolation] = []
    check_opaque_id("terms.subject_member_id", given.subject_member_id, violations)
    check_opaque_id(
        "terms.disclosing_organization_id", given.disclosing_organization_id, violations
    )
    categories = _choices(InformationCategory, "terms.categories", given.categories, violations)
    purposes = _choices(ConsentPurpose, "terms.purposes", given.purposes, violations)
    classes = _choices(
        RecipientClass, "terms.recipient_classes", given.recipient_classes, violations, needed=False
    )
    for index, organization_id in enumerate(given.recipient_organization_ids):
        check_opaque_id(f"terms.recipient_organization_ids[{index}]", organization_id, violations)
    recipients = len(given.recipient_organization_ids) + len(given.recipient_classes)
    if recipients == 0:
        violations.append(
            FieldViolation(
                "terms.recipient_organization_ids",
                "name at least one recipient, by organization or by class",
            )
        )
    elif recipients > MAX_RECIPIENTS:
        violations.append(
            FieldViolation(
                "terms.recipient_organization_ids", f"at most {MAX_RECIPIENTS} recipients"
            )
        )
    if given.disclosing_organization_id in given.recipient_organization_ids:
        violations.append(
            FieldViolation(
                "terms.recipient_organization_ids", "must not name the disclosing organization"
            )
        )
    instructions = _text(
        "terms.revocation_instructions",
        given.revocation_instructions,
        INSTRUCTIONS_MAX_CHARS,
        violations,
    )
    expiry_event = _text(
        "terms.expiry_event", given.expiry_event, EXPIRY_EVENT_MAX_CHARS, violations, needed=False
    )
    _check_period(given, expiry_event, now, violations)
    capture = parse_choice(CaptureMethod, "terms.capture_method", given.capture_method, violations)
    witness = _text(
        "terms.witness_name", given.witness_name, WITNESS_NAME_MAX_CHARS, violations, needed=False
    )
    if capture is CaptureMethod.VERBAL_WITH_WITNESS and witness is None:
        violations.append(FieldViolation("terms.witness_name", "is required for verbal consent"))
    elif capture is not None and capture is not CaptureMethod.VERBAL_WITH_WITNESS and witness:
        violations.append(FieldViolation("terms.witness_name", "only for verbal consent"))
    if given.signed_at is None:
        violations.append(FieldViolation("terms.signed_at", "is required"))
    elif given.signed_at > now:
        violations.append(FieldViolation("terms.signed_at", "must not be in the future"))
    if (
        violations
        or capture is None
        or instructions is None
        or given.valid_from is None
        or given.signed_at is None
    ):
        raise InvalidArgument("the consent is not valid", violations)
    return ConsentTerms(
        subject_member_id=given.subject_member_id,
        disclosing_organization_id=given.disclosing_organization_id,
        categories=categories,
        recipient_organization_ids=frozenset(given.recipient_organization_ids),
        recipient_classes=classes,
        purposes=purposes,
        revocation_instructions=instructions,
        valid_from=given.valid_from,
        expires_at=given.expires_at,
        expiry_event=expiry_event,
        capture_method=capture,
        witness_name=witness,
        signed_at=given.signed_at,
    )


def _check_period(
    given: ConsentTermsInput,
    expiry_event: str | None,
    now: datetime,
    violations: list[FieldViolation],
) -> None:
    if given.valid_from is None:
        violations.append(FieldViolation("terms.valid_from", "is required"))
    if given.expires_at is None:
        if expiry_event is None:
            violations.append(
                FieldViolation("terms.expires_at", "give an expiry date or an expiry event")
            )
        return
    if given.valid_from is not None and given.expires_at <= given.valid_from:
        violations.append(FieldViolation("terms.expires_at", "must be after valid_from"))
    elif given.expires_at <= now:
        violations.append(FieldViolation("terms.expires_at", "has already passed"))


def _choices(
    enum: type[E],
    field: str,
    values: tuple[str, ...],
    violations: list[FieldViolation],
    *,
    needed: bool = True,
) -> frozenset[E]:
    if needed and not values:
        violations.append(FieldViolation(field, "name at least one"))
    chosen = (parse_choice(enum, f"{field}[{i}]", v, violations) for i, v in enumerate(values))
    return frozenset(c for c in chosen if c is not None)


def _text(
    field: str, value: str, max_chars: int, violations: list[FieldViolation], *, needed: bool = True
) -> str | None:
    """The stripped text, or None when empty (a violation when `needed`) or too long."""
    text = value.strip()
    if not text:
        if needed:
            violations.append(FieldViolation(field, "is required"))
        return None
    if len(value) > max_chars:
        violations.append(FieldViolation(field, f"must be at most {max_chars} characters"))
        return None
    return text


def check_revocation_reason(reason: str) -> str | None:
    violations: list[FieldViolation] = []
    text = _text("reason", reason, REVOCATION_REASON_MAX_CHARS, violations, needed=False)
    if violations:
        raise InvalidArgument("the revocation is not valid", violations)
    return text
