"""What of a referral may reach its recipient: the consent gate, as a pure decision.

A referral's FHIR view discloses, to the recipient organization, the member's
referral details (category, priority, reason). That needs an active consent
of the member in which the requesting organization is the one that may
disclose, and which covers the recipient (by name, or as one of the member's
treating providers when the recipient is a clinic asked to treat), the purpose
(`purpose_for`: treatment, or care management for housing and social needs) and
the category "referral details", at the time of the change. Without one the view
is minimal: that a referral exists, its status and who holds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth.principal import Principal, Role

from .consent import Consent, ConsentPurpose, InformationCategory, RecipientClass, covers
from .model import Referral
from .values import Category, PartyKind

# A referral asks its recipient to treat (or support) the member; it has no purpose field.
REFERRAL_PURPOSE = ConsentPurpose.TREAT
REFERRAL_CATEGORY = InformationCategory.REFERRAL_DETAILS
# Housing and other social needs are not treatment: the recipient coordinates services
# for the member (HL7 PurposeOfUse CAREMGT), so a treatment-only consent does not cover them.
_CARE_MANAGEMENT = frozenset({Category.HOUSING, Category.SOCIAL_NEEDS})


def purpose_for(referral: Referral) -> ConsentPurpose:
    """The purpose a disclosure of `referral`'s details serves, from its service category."""
    if referral.category in _CARE_MANAGEMENT:
        return ConsentPurpose.CAREMGT
    return REFERRAL_PURPOSE


@dataclass(frozen=True)
class Disclosure:
    """The decision for one FHIR view: under `consent` (full), or minimal (None) and why."""

    consent: Consent | None
    purpose: ConsentPurpose = REFERRAL_PURPOSE
    withheld_because: str | None = None

    @property
    def full(self) -> bool:
        return self.consent is not None


def disclosure_for(
    referral: Referral,
    consents: Iterable[Consent],
    at: datetime,
    purpose: ConsentPurpose | None = None,
) -> Disclosure:
    """The newest of `consents` that covers this disclosure for `purpose` (by default
    `purpose_for(referral)`), or a minimal view."""
    purpose = purpose or purpose_for(referral)
    recipient = referral.recipient
    # A clinic asked to treat the member is one of its treating providers; not otherwise.
    classes = (
        frozenset({RecipientClass.TREATING_PROVIDERS})
        if recipient.kind is PartyKind.CLINIC and purpose is ConsentPurpose.TREAT
        else frozenset()
    )
    newest_first = sorted(consents, key=lambda c: (c.create_time, c.consent_id), reverse=True)
    for consent in newest_first:
        if consent.subject_member_id != referral.subject_member_id:
            continue
        if consent.terms.disclosing_organization_id != referral.requester.organization_id:
            continue
        if covers(
            consent,
            recipient.organization_id,
            purpose,
            REFERRAL_CATEGORY,
            at,
            recipient_classes=classes,
        ):
            return Disclosure(consent, purpose)
    return Disclosure(
        None,
        purpose,
        withheld_because=(
            f"no active consent of the member lets {referral.requester.organization_id} "
            f"disclose {REFERRAL_CATEGORY.value} to {recipient.organization_id} "
            f"for {purpose.code}"
        ),
    )


# What a full view holds, for the accounting of disclosures (42 CFR 2.24): brief, no detail.
FULL_VIEW_DESCRIPTION = (
    "Referral details: the referral's status, category, priority and reason "
    "(FHIR Task and ServiceRequest), with the member's consent"
)


class DisclosureChannel(StrEnum):
    """How a disclosure was made: the FHIR view on the topic, a read by the recipient
    through the API, or a medical emergency (42 CFR 2.51)."""

    FHIR_VIEW = "fhir_view"
    API_READ = "api_read"
    EMERGENCY = "emergency"


@dataclass(frozen=True)
class DisclosureEntry:
    """One row of the disclosure log: who received what of the member's, when, under which
    consent."""

    referral_id: str
    referral_version: int
    subject_member_id: str
    recipient_organization_id: str
    # None for an emergency disclosure (42 CFR 2.51), made without consent.
    consent_id: str | None
    # A consent's purpose, or ETREAT for an emergency disclosure.
    purpose: ConsentPurpose | PurposeOfUse
    category: InformationCategory
    description: str
    disclosed_at: datetime
    # Given by the log when the entry is stored; None before.
    disclosure_id: int | None = None
    channel: DisclosureChannel = DisclosureChannel.FHIR_VIEW


def log_entry(
    referral: Referral,
    consent: Consent,
    at: datetime,
    *,
    purpose: ConsentPurpose = REFERRAL_PURPOSE,
    description: str = FULL_VIEW_DESCRIPTION,
    channel: DisclosureChannel = DisclosureChannel.FHIR_VIEW,
) -> DisclosureEntry:
    """The log row of a disclosure of `referral` under `consent`, made at `at`."""
    return DisclosureEntry(
        referral_id=str(referral.referral_id),
        referral_version=referral.version,
        subject_member_id=referral.subject_member_id,
        recipient_organization_id=referral.recipient.organization_id,
        consent_id=str(consent.consent_id),
        purpose=purpose,
        category=REFERRAL_CATEGORY,
        description=description,
        disclosed_at=at,
        channel=channel,
    )


def purpose_code(purpose: ConsentPurpose | PurposeOfUse) -> str:
    """The HL7 PurposeOfUse code the log stores and shows."""
    return purpose.code if isinstance(purpose, ConsentPurpose) else purpose.value


def purpose_from_code(code: str) -> ConsentPurpose | PurposeOfUse:
    if code in ConsentPurpose.__members__:
        return ConsentPurpose[code]
    return PurposeOfUse(code)


# Program staff who answer for the program's disclosures to its members.
_LOG_READERS = frozenset({Role.COORDINATOR, Role.SUPERVISOR})


@dataclass(frozen=True)
class DisclosureVisibility:
    """The log entries a caller may read: the member's own, or those the caller's program
    made (matched against the referral's requesting organization, which disclosed it)."""

    member_ids: frozenset[str] = frozenset()
    program_ids: frozenset[str] = frozenset()

    def admits(self, entry: DisclosureEntry, disclosing_organization_id: str) -> bool:
        return (
            entry.subject_member_id in self.member_ids
            or disclosing_organization_id in self.program_ids
        )

    def may_cover_member(self, member_id: str) -> bool:
        """False when the caller could only ever read another member's log than
        `member_id`'s: asking for it is an attempt on someone else's records."""
        return bool(self.program_ids) or member_id in self.member_ids


def disclosure_visibility(principal: Principal) -> DisclosureVisibility:
    members = frozenset({principal.subject}) if principal.has_role(Role.MEMBER) else frozenset()
    programs: frozenset[str] = frozenset()
    organization = principal.organization_id
    if organization is not None and not principal.roles.isdisjoint(_LOG_READERS):
        programs = frozenset({organization})
    return DisclosureVisibility(members, programs)
