"""Crisis use cases: clinical contacts, the on-call supervisor, and risk flags.

Each allowed call is audited in the transaction of its work, each refusal as
denied; something the caller may not know of is NOT_FOUND. A raised flag, its
route, the crisis referral when there is one, and their events are written in
one transaction, so a flag that was answered is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth.principal import Principal
from peerbridge_platform.auth.scopes import RISK_FLAGS_READ, RISK_FLAGS_WRITE
from peerbridge_platform.errors import (
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from peerbridge_platform.logging import get_logger

from ..domain.access_rules import purpose_of_use
from ..domain.crisis import (
    ClinicalContact,
    FlagDetails,
    OnCallShift,
    RiskFlag,
    RiskFlagAcknowledged,
    RiskFlagEscalated,
    acknowledge,
    check_shift,
    escalate,
    may_handle_flags,
    may_read_contact,
    may_read_on_call,
    may_set_contact,
    may_set_on_call,
    on_call_at,
    parse_contact,
    raise_refusal,
)
from ..domain.rules import check_opaque_id
from .audit import Access, DeniedAccessLog
from .crisis_repository import DuplicateFlagRequest
from .handlers import Clock, IdFactory, add_new_referral, parse_uuid, require_scope
from .pagination import PageLimits, decode_page_token, encode_page_token
from .repository import Cursor, ReferralFilter
from .unit_of_work import UnitOfWork

log = get_logger(__name__)

RISK_FLAG = "risk_flag"
CLINICAL_CONTACT = "clinical_contact"
ON_CALL = "on_call"
FLAG_RAISE = "risk_flag.raise"
FLAG_ACKNOWLEDGE = "risk_flag.acknowledge"
FLAG_LIST = "risk_flag.list"
CONTACT_SET = "clinical_contact.set"
CONTACT_READ = "clinical_contact.read"
ON_CALL_SET = "on_call.set"
ON_CALL_READ = "on_call.read"


@dataclass(frozen=True)
class SetContact:
    member_id: str
    program_id: str
    organization_id: str
    display_name: str


@dataclass(frozen=True)
class SetOnCall:
    program_id: str
    supervisor_id: str
    start_time: datetime | None
    end_time: datetime | None


@dataclass(frozen=True)
class RaiseFlag:
    request_id: str
    details: FlagDetails


@dataclass(frozen=True)
class ListFlags:
    program_id: str
    unhandled_only: bool = False
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class FlagPage:
    flags: list[RiskFlag]
    next_page_token: str


def _access(
    action: str,
    resource_type: str,
    resource_id: str | None,
    member: str | None,
    purpose: PurposeOfUse,
    reason: str | None = None,
) -> Access:
    return Access(action, resource_id, member, purpose, reason, resource_type)


async def _refuse(denials: DeniedAccessLog, attempt: Access, why: str) -> None:
    await denials.record_denied(replace(attempt, reason=why))


async def set_clinical_contact(
    command: SetContact,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
) -> ClinicalContact:
    parse_contact(
        command.member_id, command.program_id, command.organization_id, command.display_name
    )
    purpose = purpose_of_use(caller)
    attempt = _access(CONTACT_SET, CLINICAL_CONTACT, command.program_id, command.member_id, purpose)
    await require_scope(caller, RISK_FLAGS_WRITE, denials, attempt)
    if not may_set_contact(caller, command.member_id, command.program_id):
        why = "only the member, or a coordinator or peer supporter of the program"
        await _refuse(denials, attempt, why)
        raise PermissionDenied(why)
    contact = ClinicalContact(
        member_id=command.member_id,
        program_id=command.program_id,
        organization_id=command.organization_id,
        display_name=command.display_name.strip(),
        set_by=caller.subject,
        update_time=clock(),
    )
    async with uow:
        await uow.crisis.set_contact(contact)
        await uow.record_access(attempt)
        await uow.commit()
    return contact


async def get_clinical_contact(
    member_id: str, program_id: str, uow: UnitOfWork, *, caller: Principal, denials: DeniedAccessLog
) -> ClinicalContact:
    violations: list[FieldViolation] = []
    check_opaque_id("member_id", member_id, violations)
    check_opaque_id("program_id", program_id, violations)
    if violations:
        raise InvalidArgument("the request is not valid", violations)
    purpose = purpose_of_use(caller)
    attempt = _access(CONTACT_READ, CLINICAL_CONTACT, program_id, member_id, purpose)
    await require_scope(caller, RISK_FLAGS_READ, denials, attempt)
    if may_read_contact(caller, member_id, program_id):
        async with uow:
            contact = await uow.crisis.get_contact(member_id, program_id)
            if contact is not None:
                await uow.record_access(attempt)
                await uow.commit()
                return contact
        why = "no clinical contact recorded"
    else:
        why = "not the member or staff of the program"
    await _refuse(denials, attempt, why)
    raise NotFound(f"no clinical contact of member {member_id} for program {program_id}")


async def set_on_call_supervisor(
    command: SetOnCall,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
    new_id: IdFactory,
) -> OnCallShift:
    start, end = check_shift(
        command.program_id, command.supervisor_id, command.start_time, command.end_time
    )
    purpose = purpose_of_use(caller)
    attempt = _access(ON_CALL_SET, ON_CALL, command.program_id, None, purpose)
    await require_scope(caller, RISK_FLAGS_WRITE, denials, attempt)
    if not may_set_on_call(caller, command.program_id):
        why = "only a coordinator of the program names its on-call supervisor"
        await _refuse(denials, attempt, why)
        raise PermissionDenied(why)
    shift = OnCallShift(
        shift_id=new_id(),
        program_id=command.program_id,
        supervisor_id=command.supervisor_id,
        start_time=start,
        end_time=end,
        set_by=caller.subject,
        create_time=clock(),
    )
    async with uow:
        await uow.crisis.add_shift(shift)
        await uow.record_access(replace(attempt, referral_id=str(shift.shift_id)))
        await uow.commit()
    return shift


async def get_on_call(
    program_id: str,
    at: datetime | None,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
) -> OnCallShift:
    violations: list[FieldViolation] = []
    check_opaque_id("program_id", program_id, violations)
    if violations:
        raise InvalidArgument("the request is not valid", violations)
    purpose = purpose_of_use(caller)
    attempt = _access(ON_CALL_READ, ON_CALL, program_id, None, purpose)
    await require_scope(caller, RISK_FLAGS_READ, denials, attempt)
    when = at or clock()
    if not may_read_on_call(caller, program_id):
        await _refuse(denials, attempt, "not staff of the program")
        raise NotFound(f"nobody is on call for program {program_id}")
    async with uow:
        shift = on_call_at(await uow.crisis.shifts_at(program_id, when), when)
        if shift is not None:
            await uow.record_access(replace(attempt, referral_id=str(shift.shift_id)))
            await uow.commit()
            return shift
    raise NotFound(f"nobody is on call for program {program_id}")


async def raise_risk_flag(
    command: RaiseFlag,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
    new_id: IdFactory,
) -> RiskFlag:
    """Escalate a flag at once (see domain.crisis), or return the one this caller's earlier
    call with this request id raised."""
    details = command.details
    purpose = purpose_of_use(caller)
    attempt = _access(FLAG_RAISE, RISK_FLAG, None, details.member_id, purpose)
    await require_scope(caller, RISK_FLAGS_WRITE, denials, attempt)
    if (refusal := raise_refusal(caller, details)) is not None:
        await _refuse(denials, attempt, refusal)
        raise PermissionDenied(refusal)
    request_id = command.request_id or None
    for _ in range(2):
        try:
            async with uow:
                crisis = uow.crisis
                if request_id is not None:
                    existing = await crisis.get_flag_by_request(caller.subject, request_id)
                    if existing is not None:
                        if existing.details != details:
                            raise Conflict("request_id was already used for a different flag")
                        await uow.record_access(
                            _flag_access(FLAG_RAISE, existing, purpose, "repeated request")
                        )
                        await uow.commit()
                        return existing
                now = clock()
                contact = await crisis.get_contact(details.member_id, details.program_id)
                consents = (
                    await uow.consents.active_for_member(details.member_id)
                    if contact is not None
                    else []
                )
                escalation = escalate(
                    details,
                    flag_id=new_id(),
                    referral_id=new_id(),
                    request_id=request_id,
                    raised_by=caller.subject,
                    now=now,
                    contact=contact,
                    consents=consents,
                    on_call=on_call_at(await crisis.shifts_at(details.program_id, now), now),
                )
                flag = escalation.flag
                if escalation.referral is not None:
                    # The crisis referral takes the path of every referral: gate, log, events.
                    await add_new_referral(
                        uow,
                        escalation.referral,
                        purpose,
                        f"crisis escalation of flag {flag.flag_id}",
                    )
                await crisis.add_flag(flag)
                await uow.publish(RiskFlagEscalated(flag))
                await uow.record_access(
                    _flag_access(FLAG_RAISE, flag, purpose, f"routed to {flag.route.value}")
                )
                await uow.commit()
        except DuplicateFlagRequest:
            continue  # a concurrent call with this request id committed first: answer with it
        log.info(
            "risk flag escalated",
            flag_id=str(flag.flag_id),
            program_id=details.program_id,
            level=details.level.value,
            route=flag.route.value,
        )
        return flag
    raise Conflict("request_id is being used by a concurrent call: try again")


def _flag_access(
    action: str, flag: RiskFlag, purpose: PurposeOfUse, reason: str | None = None
) -> Access:
    return _access(action, RISK_FLAG, str(flag.flag_id), flag.details.member_id, purpose, reason)


async def acknowledge_risk_flag(
    flag_id: str, uow: UnitOfWork, *, caller: Principal, denials: DeniedAccessLog, clock: Clock
) -> RiskFlag:
    """Mark the flag handled; a handled flag is returned as it is. NOT_FOUND alike whether it
    is missing or another program's."""
    parsed = parse_uuid(flag_id, "flag_id")
    flag = await _visible_flag(parsed, FLAG_ACKNOWLEDGE, uow, caller, denials)
    purpose = purpose_of_use(caller)
    attempt = _flag_access(FLAG_ACKNOWLEDGE, flag, purpose)
    await require_scope(caller, RISK_FLAGS_WRITE, denials, attempt)
    async with uow:
        crisis = uow.crisis
        current = await crisis.get_flag(parsed) or flag
        handled = acknowledge(current, by=caller.subject, now=clock())
        if handled is current:
            await uow.record_access(replace(attempt, reason="already acknowledged"))
        elif await crisis.acknowledge(handled):
            await uow.publish(RiskFlagAcknowledged(handled))
            await uow.record_access(attempt)
        else:
            handled = await crisis.get_flag(parsed) or handled
            await uow.record_access(replace(attempt, reason="already acknowledged"))
        await uow.commit()
    log.info("risk flag acknowledged", flag_id=str(parsed))
    return handled


async def _visible_flag(
    flag_id: UUID, action: str, uow: UnitOfWork, caller: Principal, denials: DeniedAccessLog
) -> RiskFlag:
    purpose = purpose_of_use(caller)
    attempt = _access(action, RISK_FLAG, str(flag_id), None, purpose)
    await require_scope(caller, RISK_FLAGS_READ, denials, attempt)
    async with uow:
        flag = await uow.crisis.get_flag(flag_id)
    if flag is not None and may_handle_flags(caller, flag.details.program_id):
        return flag
    why = "no such flag" if flag is None else "not a coordinator or supervisor of the program"
    member = flag.details.member_id if flag is not None else None
    await _refuse(denials, replace(attempt, subject_member_id=member), why)
    raise NotFound(f"risk flag {flag_id} not found")


async def list_risk_flags(
    query: ListFlags,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    limits: PageLimits,
) -> FlagPage:
    """One page of the program's flags, newest first. Staff of another program, or anyone
    but its coordinators and supervisors, get an empty page, audited as denied."""
    violations: list[FieldViolation] = []
    check_opaque_id("program_id", query.program_id, violations)
    if query.page_size < 0:
        violations.append(FieldViolation("page_size", "must not be negative"))
    if violations:
        raise InvalidArgument("the listing request is not valid", violations)
    purpose = purpose_of_use(caller)
    attempt = _access(FLAG_LIST, RISK_FLAG, None, None, purpose)
    await require_scope(caller, RISK_FLAGS_READ, denials, attempt)
    if not may_handle_flags(caller, query.program_id):
        await _refuse(denials, attempt, "another program's flags")
        return FlagPage([], "")
    # The page token's fingerprint carries the program and the unhandled switch.
    where = ReferralFilter(subject_member_id=f"{query.program_id}|{int(query.unhandled_only)}")
    after = decode_page_token(query.page_token, where)
    size = limits.size_for(query.page_size)
    async with uow:
        found = await uow.crisis.list_flags(
            query.program_id, unhandled_only=query.unhandled_only, after=after, limit=size + 1
        )
        page = found[:size]
        for flag in page:
            await uow.record_access(_flag_access(FLAG_LIST, flag, purpose, "listed"))
        if page:
            await uow.commit()
    next_token = ""
    if len(found) > size:
        last = page[-1]
        next_token = encode_page_token(Cursor(last.raise_time, last.flag_id), where)
    return FlagPage(page, next_token)
