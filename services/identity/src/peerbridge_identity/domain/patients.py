"""A clinic's patient, known by the clinic's identifier, linked to a platform member.

Only an exact identifier (system, value) finds a member. Demographics are
never compared: a wrong match would show one person's record to another, so
an unknown identifier enrols a new member instead (duplicates are merged by
people, later; disclosures cannot be taken back).

An identifier system belongs to the organization that first used it, and only
that organization's clinicians and partner clients resolve identifiers of it:
another clinic cannot probe, or attach itself to, a patient of the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth import scopes
from peerbridge_platform.auth.principal import Principal
from peerbridge_platform.auth.principal import Role as CallerRole
from peerbridge_platform.errors import FieldViolation, InvalidArgument

from .access_rules import Access, Decision, allow, deny
from .checks import Violations, check_text, has_control_characters, parse_optional_uuid
from .commands import DateInput
from .model import Person, Profile
from .profile_rules import is_language_tag
from .qualification_rules import parse_date
from .values import AgeBand, OrganizationKind, Role

# The platform's own systems name its records; a clinic's identifier is never one of them.
RESERVED_SYSTEM_PREFIX = "urn:peerbridge:"
SYSTEM_MAX_CHARS = 255
VALUE_MAX_CHARS = 128
DISPLAY_NAME_MAX_CHARS = 80
DEFAULT_DISPLAY_NAME = "Member"
DEFAULT_LANGUAGE = "en"
# Members set their own zone at first contact; until then times are shown in UTC.
DEFAULT_TIME_ZONE = "UTC"
ADULT_AGE = 18
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
# Lower bound (inclusive) of each adult age band.
_AGE_BANDS = (
    (65, AgeBand.B65_OR_OLDER),
    (55, AgeBand.B55_TO_64),
    (45, AgeBand.B45_TO_54),
    (35, AgeBand.B35_TO_44),
    (25, AgeBand.B25_TO_34),
    (18, AgeBand.B18_TO_24),
)


class Resolution(StrEnum):
    LINKED = "linked"
    ENROLLED = "enrolled"


@dataclass(frozen=True)
class ResolvePatient:
    """The command: a clinic's identifier, and what to enrol a new member with."""

    system: str
    value: str
    program_id: str = ""
    given_name: str = ""
    birth_date: DateInput | None = None
    language: str = ""


@dataclass(frozen=True)
class PatientRequest:
    """A checked ResolvePatient."""

    system: str
    value: str
    # None: not given; required only when a member is enrolled.
    program_id: UUID | None
    profile: Profile


@dataclass(frozen=True)
class PatientLink:
    system: str
    value: str
    assigning_organization_id: UUID
    person_id: UUID
    # True when the link enrolled the member.
    enrolled: bool
    create_time: datetime


@dataclass(frozen=True)
class PatientResolved:
    member_id: UUID
    resolution: Resolution


def age_on(birth_date: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)


def age_band(age: int) -> AgeBand | None:
    return next((band for lowest, band in _AGE_BANDS if age >= lowest), None)


def _check_system(value: str, violations: Violations) -> None:
    field = "identifier.system"
    if not value:
        violations.append(FieldViolation(field, "is required"))
    elif len(value) > SYSTEM_MAX_CHARS or not _ABSOLUTE_URI.fullmatch(value):
        violations.append(
            FieldViolation(
                field, f"must be an absolute URI of at most {SYSTEM_MAX_CHARS} characters"
            )
        )
    elif value.lower().startswith(RESERVED_SYSTEM_PREFIX):
        violations.append(
            FieldViolation(field, f"must be the clinic's own system, not {RESERVED_SYSTEM_PREFIX}*")
        )


def _check_value(value: str, violations: Violations) -> None:
    field = "identifier.value"
    if not value.strip():
        violations.append(FieldViolation(field, "is required"))
    elif len(value) > VALUE_MAX_CHARS or has_control_characters(value) or value != value.strip():
        violations.append(
            FieldViolation(
                field,
                f"must be 1 to {VALUE_MAX_CHARS} characters, without control characters "
                "or surrounding spaces",
            )
        )


def _age_band(given: DateInput | None, today: date, violations: Violations) -> AgeBand | None:
    if given is None:
        return None
    field = "demographics.birth_date"
    born = parse_date(field, given, violations)
    if born is None:
        return None
    if born > today:
        violations.append(FieldViolation(field, "must not be in the future"))
        return None
    band = age_band(age_on(born, today))
    if band is None:
        # Minors' consent rules differ; the platform enrols adults only.
        violations.append(FieldViolation(field, f"the member must be at least {ADULT_AGE}"))
    return band


def validate_resolve(command: ResolvePatient, today: date) -> PatientRequest:
    """The checked request; InvalidArgument naming every bad field."""
    violations: Violations = []
    _check_system(command.system, violations)
    _check_value(command.value, violations)
    program_id = parse_optional_uuid("program_id", command.program_id, violations)
    display_name = command.given_name.strip() or DEFAULT_DISPLAY_NAME
    check_text("demographics.given_name", display_name, DISPLAY_NAME_MAX_CHARS, violations)
    language = command.language or DEFAULT_LANGUAGE
    if not is_language_tag(language):
        violations.append(
            FieldViolation("demographics.language", "must be a BCP 47 language tag, e.g. en")
        )
    band = _age_band(command.birth_date, today, violations)
    if violations:
        raise InvalidArgument("the patient is not valid", violations)
    profile = Profile(display_name, language, DEFAULT_TIME_ZONE, age_band=band)
    return PatientRequest(command.system, command.value, program_id, profile)


def check_enrolment_program(program_id: UUID | None, kind: OrganizationKind | None) -> UUID:
    """The program a new member joins: given, and a peer support program."""
    if program_id is None:
        raise InvalidArgument(
            "a program is needed to enrol the patient",
            [FieldViolation("program_id", "is required to enrol a patient not linked yet")],
        )
    if kind is not OrganizationKind.PEER_SUPPORT_PROGRAM:
        raise InvalidArgument(
            "the program is not known",
            [FieldViolation("program_id", "must name a peer support program")],
        )
    return program_id


def new_member(request: PatientRequest, person_id: UUID, program_id: UUID, now: datetime) -> Person:
    # No credentials yet: the program contacts the member, who then sets a password.
    return Person(
        person_id=person_id,
        roles=frozenset({Role.MEMBER}),
        organization_id=program_id,
        profile=request.profile,
        create_time=now,
        update_time=now,
        version=1,
    )


def resolve_patient(
    principal: Principal,
    caller_organization: OrganizationKind | None,
    system_owner: UUID | None,
) -> Decision:
    """Clinicians and partner clients of a clinic, holding patients.link, for identifier
    systems no other organization uses. `caller_organization`: the kind of the caller's
    organization (None when it has none); `system_owner`: who first used the system."""
    if scopes.PATIENTS_LINK not in principal.scopes:
        return deny(f"token lacks scope {scopes.PATIENTS_LINK}")
    if principal.roles.isdisjoint({CallerRole.CLINICIAN, CallerRole.PARTNER_CLIENT}):
        return deny("clinicians and partner clients of a clinic only")
    if caller_organization is not OrganizationKind.CLINIC or principal.organization_id is None:
        return deny("callers of a clinic organization only")
    if system_owner is not None and str(system_owner) != principal.organization_id:
        return deny("the identifier system belongs to another organization")
    return allow("clinic of the identifier's system")


def about_patient(person_id: UUID | None = None) -> Access:
    """The audited access: a clinic coordinating a patient's care with a program."""
    subject = str(person_id) if person_id else None
    return Access("patient.resolve", "person", subject, subject, PurposeOfUse.COC)
