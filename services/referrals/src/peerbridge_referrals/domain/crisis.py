"""Crisis escalation: where a risk flag about a member goes, as pure decisions.

A flag is never dropped. In order:
1. the member has a clinical contact (a clinic) for the program, and an active
   consent lets the program disclose referral details to that clinic for
   treatment (the same gate as every referral's FHIR view): an urgent crisis
   referral to the clinic (STAT for an imminent risk, URGENT for an elevated one);
2. otherwise a supervisor is on call for the program now: the flag is assigned
   to them, and nothing leaves the program;
3. otherwise the program's coordinators get it.
Whatever the route, the flag is UNHANDLED until a coordinator or supervisor of
the program acknowledges it, and the answer carries the crisis line guidance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from peerbridge_platform.auth.principal import Principal, Role
from peerbridge_platform.errors import FieldViolation, InvalidArgument

from .consent import Consent
from .disclosure import disclosure_for
from .events import DomainEvent
from .model import Referral, ReferralDetails, open_referral
from .rules import DISPLAY_NAME_MAX_CHARS, check_opaque_id, is_opaque_id, parse_choice
from .values import Category, Direction, Party, PartyKind, Priority


class RiskLevel(StrEnum):
    ELEVATED = "elevated"
    IMMINENT = "imminent"


class RiskKind(StrEnum):
    SELF_HARM = "self_harm"
    OVERDOSE = "overdose"
    RETURN_TO_USE = "return_to_use"
    VIOLENCE = "violence"
    OTHER = "other"


class RiskFlagSource(StrEnum):
    CHECK_IN = "check_in"
    PEER_SUPPORTER = "peer_supporter"
    SESSION_FACILITATOR = "session_facilitator"


class Route(StrEnum):
    CLINICAL_CONTACT = "clinical_contact"
    ON_CALL_SUPERVISOR = "on_call_supervisor"
    COORDINATORS = "coordinators"


class FlagStatus(StrEnum):
    UNHANDLED = "unhandled"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class CrisisGuidance:
    line_name: str
    call_number: str
    text_number: str
    chat_url: str
    emergency_number: str
    message: str


# Given with every flag, whatever its route: the person raising it may be with the member now.
CRISIS_GUIDANCE = CrisisGuidance(
    line_name="988 Suicide & Crisis Lifeline",
    call_number="988",
    text_number="988",
    chat_url="https://988lifeline.org/chat",
    emergency_number="911",
    message=(
        "If someone is in immediate danger, call 911. Otherwise call or text 988, "
        "or chat at 988lifeline.org, for the 988 Suicide & Crisis Lifeline."
    ),
)

PRIORITY_FOR_LEVEL = {RiskLevel.IMMINENT: Priority.STAT, RiskLevel.ELEVATED: Priority.URGENT}
# The most an on-call entry may span: a rota is planned shift by shift, not for ever.
MAX_ON_CALL = timedelta(days=31)


@dataclass(frozen=True)
class ClinicalContact:
    member_id: str
    program_id: str
    organization_id: str
    display_name: str
    set_by: str
    update_time: datetime


@dataclass(frozen=True)
class OnCallShift:
    shift_id: UUID
    program_id: str
    supervisor_id: str
    start_time: datetime
    end_time: datetime
    set_by: str
    create_time: datetime

    def covers(self, at: datetime) -> bool:
        return self.start_time <= at < self.end_time


def on_call_at(shifts: Iterable[OnCallShift], at: datetime) -> OnCallShift | None:
    """The shift in force at `at`: of overlapping ones, the latest named."""
    current = [s for s in shifts if s.covers(at)]
    return max(current, key=lambda s: (s.create_time, str(s.shift_id)), default=None)


@dataclass(frozen=True)
class FlagDetails:
    """What a raise request decides; two raises with one request id must carry equal ones."""

    member_id: str
    program_id: str
    level: RiskLevel
    kind: RiskKind
    source: RiskFlagSource


@dataclass(frozen=True)
class RiskFlag:
    flag_id: UUID
    request_id: str | None
    details: FlagDetails
    raised_by: str
    raise_time: datetime
    route: Route
    status: FlagStatus = FlagStatus.UNHANDLED
    referral_id: UUID | None = None
    clinic_organization_id: str | None = None
    assigned_supervisor_id: str | None = None
    acknowledged_by: str | None = None
    acknowledge_time: datetime | None = None


@dataclass(frozen=True)
class RiskFlagEscalated(DomainEvent):
    """A flag was raised and routed; carries it as stored."""

    flag: RiskFlag


@dataclass(frozen=True)
class RiskFlagAcknowledged(DomainEvent):
    """Someone took charge of a flag; carries it after the acknowledgement."""

    flag: RiskFlag


@dataclass(frozen=True)
class Escalation:
    """Where a new flag goes: the flag, and for the clinic route the crisis referral."""

    flag: RiskFlag
    referral: Referral | None = None


def parse_flag(
    member_id: str, program_id: str, level: str, kind: str, source: str, request_id: str
) -> FlagDetails:
    """The checked request, or InvalidArgument naming every bad field."""
    violations: list[FieldViolation] = []
    if request_id and not is_opaque_id(request_id):
        check_opaque_id("request_id", request_id, violations)
    check_opaque_id("member_id", member_id, violations)
    check_opaque_id("program_id", program_id, violations)
    parsed_level = parse_choice(RiskLevel, "level", level, violations)
    parsed_kind = parse_choice(RiskKind, "kind", kind, violations)
    parsed_source = parse_choice(RiskFlagSource, "source", source, violations)
    if violations or parsed_level is None or parsed_kind is None or parsed_source is None:
        raise InvalidArgument("the risk flag is not valid", violations)
    return FlagDetails(member_id, program_id, parsed_level, parsed_kind, parsed_source)


def crisis_referral_details(flag: FlagDetails, contact: ClinicalContact) -> ReferralDetails:
    """The urgent crisis referral from the program to the member's clinic. Its reason holds
    codes only: what the member said stays where it was said."""
    return ReferralDetails(
        subject_member_id=flag.member_id,
        direction=Direction.PEER_SUPPORT_TO_CLINIC,
        category=Category.CRISIS_CARE,
        priority=PRIORITY_FOR_LEVEL[flag.level],
        reason=(
            f"Crisis escalation of a risk flag: level {flag.level.value}, kind "
            f"{flag.kind.value}, from {flag.source.value.replace('_', ' ')}."
        ),
        requester=Party(
            PartyKind.PEER_SUPPORT_PROGRAM,
            flag.program_id,
            f"Peer support program {flag.program_id}",
        ),
        recipient=Party(PartyKind.CLINIC, contact.organization_id, contact.display_name),
    )


def escalate(
    flag: FlagDetails,
    *,
    flag_id: UUID,
    referral_id: UUID,
    request_id: str | None,
    raised_by: str,
    now: datetime,
    contact: ClinicalContact | None,
    consents: Iterable[Consent],
    on_call: OnCallShift | None,
) -> Escalation:
    """The route of a new flag (see the module's rules), never none."""
    base = RiskFlag(flag_id, request_id, flag, raised_by, now, Route.COORDINATORS)
    if contact is not None and contact.organization_id != flag.program_id:
        referral, _ = open_referral(
            crisis_referral_details(flag, contact),
            referral_id=referral_id,
            request_id=None,
            now=now,
        )
        if disclosure_for(referral, consents, now).full:
            routed = replace(
                base,
                route=Route.CLINICAL_CONTACT,
                referral_id=referral_id,
                clinic_organization_id=contact.organization_id,
            )
            return Escalation(routed, referral)
    if on_call is not None and on_call.covers(now):
        return Escalation(
            replace(
                base, route=Route.ON_CALL_SUPERVISOR, assigned_supervisor_id=on_call.supervisor_id
            )
        )
    return Escalation(base)


def acknowledge(flag: RiskFlag, *, by: str, now: datetime) -> RiskFlag:
    """The flag in someone's charge; an acknowledged flag is returned as it is."""
    if flag.status is FlagStatus.ACKNOWLEDGED:
        return flag
    return replace(flag, status=FlagStatus.ACKNOWLEDGED, acknowledged_by=by, acknowledge_time=now)


# Access rules. The program is the caller's organization: members belong to their program.
_RAISERS = frozenset({Role.PEER_SUPPORTER, Role.COORDINATOR, Role.SUPERVISOR, Role.CLINICIAN})
_CONTACT_KEEPERS = frozenset({Role.PEER_SUPPORTER, Role.COORDINATOR})
_PROGRAM_STAFF = frozenset({Role.PEER_SUPPORTER, Role.COORDINATOR, Role.SUPERVISOR, Role.CLINICIAN})
_FLAG_HANDLERS = frozenset({Role.COORDINATOR, Role.SUPERVISOR})


def _of_program(caller: Principal, program_id: str, roles: frozenset[Role]) -> bool:
    return caller.organization_id == program_id and not caller.roles.isdisjoint(roles)


def _the_member(caller: Principal, member_id: str, program_id: str) -> bool:
    return (
        caller.has_role(Role.MEMBER)
        and caller.subject == member_id
        and caller.organization_id == program_id
    )


def raise_refusal(caller: Principal, flag: FlagDetails) -> str | None:
    """Why `caller` may not raise this flag, or None."""
    if _the_member(caller, flag.member_id, flag.program_id):
        return None
    if _of_program(caller, flag.program_id, _RAISERS):
        return None
    return "only the member, or staff of the member's program, raise a flag about them"


def may_set_contact(caller: Principal, member_id: str, program_id: str) -> bool:
    return _the_member(caller, member_id, program_id) or _of_program(
        caller, program_id, _CONTACT_KEEPERS
    )


def may_read_contact(caller: Principal, member_id: str, program_id: str) -> bool:
    return _the_member(caller, member_id, program_id) or _of_program(
        caller, program_id, _PROGRAM_STAFF
    )


def may_set_on_call(caller: Principal, program_id: str) -> bool:
    return _of_program(caller, program_id, frozenset({Role.COORDINATOR}))


def may_read_on_call(caller: Principal, program_id: str) -> bool:
    return _of_program(caller, program_id, _PROGRAM_STAFF)


def may_handle_flags(caller: Principal, program_id: str) -> bool:
    """Coordinators and supervisors of the program read and acknowledge its flags."""
    return _of_program(caller, program_id, _FLAG_HANDLERS)


def parse_contact(member_id: str, program_id: str, organization_id: str, display_name: str) -> None:
    """InvalidArgument naming every bad field of a clinical contact, or nothing."""
    violations: list[FieldViolation] = []
    check_opaque_id("member_id", member_id, violations)
    check_opaque_id("program_id", program_id, violations)
    check_opaque_id("organization_id", organization_id, violations)
    if not display_name.strip():
        violations.append(FieldViolation("display_name", "is required"))
    elif len(display_name) > DISPLAY_NAME_MAX_CHARS:
        violations.append(
            FieldViolation("display_name", f"must be at most {DISPLAY_NAME_MAX_CHARS} characters")
        )
    if not violations and organization_id == program_id:
        violations.append(FieldViolation("organization_id", "must be a clinic, not the program"))
    if violations:
        raise InvalidArgument("the clinical contact is not valid", violations)


def check_shift(
    program_id: str, supervisor_id: str, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """The checked period of an on-call entry, or InvalidArgument naming every bad field."""
    violations: list[FieldViolation] = []
    check_opaque_id("program_id", program_id, violations)
    check_opaque_id("supervisor_id", supervisor_id, violations)
    if start is None:
        violations.append(FieldViolation("start_time", "is required"))
    if end is None:
        violations.append(FieldViolation("end_time", "is required"))
    if start is not None and end is not None:
        if end <= start:
            violations.append(FieldViolation("end_time", "must be after start_time"))
        elif end - start > MAX_ON_CALL:
            violations.append(
                FieldViolation("end_time", "must be at most 31 days after start_time")
            )
    if violations or start is None or end is None:
        raise InvalidArgument("the on-call entry is not valid", violations)
    return start, end
