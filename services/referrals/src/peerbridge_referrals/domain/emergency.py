"""Medical emergency disclosure (42 CFR 2.51, "break the glass"), as pure rules.

In a bona fide medical emergency a program may disclose a member's records to
medical personnel treating the member, without consent, and must record at
once: the medical personnel who received it and their facility, who disclosed
it, the date and time, and the nature of the emergency.

Here: a CLINICIAN (role clinician, scope `referrals.emergency`) of the
referral's recipient or requester organization may ask for the whole
referral. Someone treating the member is at one of the two organizations the
referral joins; a clinician elsewhere cannot tell the referral exists
(NOT_FOUND, as for any referral they may not see), and other roles of those
organizations are refused (PERMISSION_DENIED): break-the-glass is for
treatment, not for coordinators or integrations. Who disclosed is the program
that made the referral (its requester organization); the platform discloses
on its behalf.

Every disclosure is flagged for review by the disclosing program: its
coordinators and supervisors list them (unreviewed first in their worklist)
and mark each reviewed with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth.principal import Principal, Role
from peerbridge_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument

from .disclosure import REFERRAL_CATEGORY, DisclosureChannel, DisclosureEntry
from .events import DomainEvent
from .model import Referral
from .rules import is_opaque_id

NATURE_MAX_CHARS = 1000
FACILITY_MAX_CHARS = 200
REVIEW_NOTE_MAX_CHARS = 1000
REQUEST_ID_MAX_CHARS = 200

EMERGENCY_DESCRIPTION = (
    "Referral details disclosed in a medical emergency (42 CFR 2.51) without consent: "
    "the referral's member, category, reason, status reason and outcome"
)

# Staff of the disclosing program who review its emergency disclosures.
_REVIEWERS = frozenset({Role.COORDINATOR, Role.SUPERVISOR})


@dataclass(frozen=True)
class EmergencyRequest:
    """A request to break the glass, checked: see `validate_emergency_request`."""

    referral_id: UUID
    nature_of_emergency: str
    recipient_facility: str
    request_id: str | None


def validate_emergency_request(
    referral_id: str, nature_of_emergency: str, recipient_facility: str, request_id: str
) -> EmergencyRequest:
    """The request, or InvalidArgument naming every bad field at once."""
    violations: list[FieldViolation] = []
    parsed = _uuid("referral_id", referral_id, violations)
    nature = nature_of_emergency.strip()
    if not nature:
        violations.append(FieldViolation("nature_of_emergency", "is required"))
    elif len(nature) > NATURE_MAX_CHARS:
        violations.append(
            FieldViolation("nature_of_emergency", f"must be at most {NATURE_MAX_CHARS} characters")
        )
    facility = recipient_facility.strip()
    if len(facility) > FACILITY_MAX_CHARS:
        violations.append(
            FieldViolation("recipient_facility", f"must be at most {FACILITY_MAX_CHARS} characters")
        )
    if request_id and (len(request_id) > REQUEST_ID_MAX_CHARS or not is_opaque_id(request_id)):
        violations.append(FieldViolation("request_id", "must be an opaque id"))
    if violations or parsed is None:
        raise InvalidArgument("the emergency disclosure request is not valid", violations)
    return EmergencyRequest(parsed, nature, facility, request_id or None)


def _uuid(field: str, value: str, violations: list[FieldViolation]) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        violations.append(FieldViolation(field, "is required" if not value else "must be a UUID"))
        return None


def may_know(caller: Principal, referral: Referral) -> bool:
    """Whether the caller is of an organization the referral joins: anyone else is told
    nothing of it."""
    organization = caller.organization_id
    return organization is not None and organization in (
        referral.requester.organization_id,
        referral.recipient.organization_id,
    )


def emergency_refusal(caller: Principal) -> str | None:
    """Why the caller, of an organization the referral joins, may not break the glass."""
    if not caller.has_role(Role.CLINICIAN):
        return "only a clinician treating the member may disclose in a medical emergency"
    return None


@dataclass(frozen=True)
class EmergencyDisclosure:
    """The record 42 CFR 2.51(c) requires, and its review."""

    emergency_disclosure_id: UUID
    request_id: str | None
    referral_id: UUID
    subject_member_id: str
    # The medical personnel who received it, and their facility.
    recipient_person_id: str
    recipient_organization_id: str
    recipient_facility: str
    # Who disclosed: the program that made the referral.
    disclosing_organization_id: str
    disclosed_at: datetime
    nature_of_emergency: str
    review_time: datetime | None = None
    reviewed_by: str | None = None
    review_note: str | None = None

    @property
    def reviewed(self) -> bool:
        return self.review_time is not None


@dataclass(frozen=True)
class EmergencyDisclosureMade(DomainEvent):
    """A referral was disclosed in a medical emergency; carries the record (the event
    leaves with ids only)."""

    disclosure: EmergencyDisclosure


def record_emergency(
    request: EmergencyRequest,
    referral: Referral,
    caller: Principal,
    *,
    disclosure_id: UUID,
    now: datetime,
) -> tuple[EmergencyDisclosure, EmergencyDisclosureMade]:
    assert caller.organization_id is not None  # may_know checked it
    record = EmergencyDisclosure(
        emergency_disclosure_id=disclosure_id,
        request_id=request.request_id,
        referral_id=referral.referral_id,
        subject_member_id=referral.subject_member_id,
        recipient_person_id=caller.subject,
        recipient_organization_id=caller.organization_id,
        recipient_facility=request.recipient_facility,
        disclosing_organization_id=referral.requester.organization_id,
        disclosed_at=now,
        nature_of_emergency=request.nature_of_emergency,
    )
    return record, EmergencyDisclosureMade(record)


def same_request(record: EmergencyDisclosure, request: EmergencyRequest) -> bool:
    """Whether a repeated request id asks for what the first request did."""
    return (record.referral_id, record.nature_of_emergency, record.recipient_facility) == (
        request.referral_id,
        request.nature_of_emergency,
        request.recipient_facility,
    )


def emergency_log_entry(referral: Referral, record: EmergencyDisclosure) -> DisclosureEntry:
    """The member's accounting of disclosures (42 CFR 2.24) lists it like any other."""
    return DisclosureEntry(
        referral_id=str(referral.referral_id),
        referral_version=referral.version,
        subject_member_id=referral.subject_member_id,
        recipient_organization_id=record.recipient_organization_id,
        consent_id=None,
        purpose=PurposeOfUse.ETREAT,
        category=REFERRAL_CATEGORY,
        description=EMERGENCY_DESCRIPTION,
        disclosed_at=record.disclosed_at,
        channel=DisclosureChannel.EMERGENCY,
    )


def reviewer_programs(caller: Principal) -> frozenset[str]:
    """The programs whose emergency disclosures the caller reviews."""
    organization = caller.organization_id
    if organization is None or caller.roles.isdisjoint(_REVIEWERS):
        return frozenset()
    return frozenset({organization})


def validate_review_note(note: str) -> str:
    text = note.strip()
    if not text:
        raise InvalidArgument(
            "the review is not valid", [FieldViolation("review_note", "is required")]
        )
    if len(text) > REVIEW_NOTE_MAX_CHARS:
        raise InvalidArgument(
            "the review is not valid",
            [FieldViolation("review_note", f"must be at most {REVIEW_NOTE_MAX_CHARS} characters")],
        )
    return text


def review(
    record: EmergencyDisclosure, *, by: str, note: str, now: datetime
) -> EmergencyDisclosure:
    """The record marked reviewed; a record is reviewed once."""
    if record.reviewed:
        raise FailedPrecondition("the emergency disclosure was already reviewed")
    return replace(record, review_time=now, reviewed_by=by, review_note=note)
