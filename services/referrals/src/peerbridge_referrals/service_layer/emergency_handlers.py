"""Break-the-glass (42 CFR 2.51): disclose a referral in a medical emergency, list the
program's emergency disclosures, and review them. Rules in `domain.emergency`.

Every allowed call is audited in its transaction; every refusal on its own, and
refusals change nothing. A disclosure is recorded, logged in the member's
accounting of disclosures, audited (`referral.emergency_disclose`, flagged for
review) and announced (EmergencyDisclosureMade) in one transaction with the read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth.principal import Principal
from peerbridge_platform.auth.scopes import REFERRALS_EMERGENCY, REFERRALS_READ
from peerbridge_platform.errors import (
    Conflict,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from peerbridge_platform.logging import get_logger

from ..domain.access_rules import purpose_of_use
from ..domain.emergency import (
    EmergencyDisclosure,
    EmergencyRequest,
    emergency_log_entry,
    emergency_refusal,
    may_know,
    record_emergency,
    review,
    reviewer_programs,
    same_request,
    validate_emergency_request,
    validate_review_note,
)
from ..domain.model import Referral
from ..domain.rules import check_opaque_id
from .audit import Access, DeniedAccessLog
from .emergency_repository import ConcurrentReview
from .handlers import Clock, IdFactory, parse_uuid, require_scope
from .pagination import PageLimits, decode_page_token, encode_page_token
from .repository import Cursor, DuplicateRequestId, ReferralFilter
from .unit_of_work import UnitOfWork

log = get_logger(__name__)

EMERGENCY_DISCLOSE = "referral.emergency_disclose"
EMERGENCY_LIST = "emergency_disclosure.list"
EMERGENCY_REVIEW = "emergency_disclosure.review"
EMERGENCY_RECORD = "emergency_disclosure"
# What the audit trail says of every emergency disclosure: someone must look at it.
FLAGGED = "flagged for review"


@dataclass(frozen=True)
class DiscloseForEmergency:
    referral_id: str
    nature_of_emergency: str
    recipient_facility: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class ListEmergencyDisclosures:
    organization_id: str
    unreviewed_only: bool = False
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class ReviewEmergencyDisclosure:
    emergency_disclosure_id: str
    review_note: str


@dataclass(frozen=True)
class EmergencyAccess:
    """What a clinician gets: the whole referral, and the record of its disclosure."""

    referral: Referral
    record: EmergencyDisclosure


@dataclass(frozen=True)
class EmergencyDisclosurePage:
    records: list[EmergencyDisclosure]
    next_page_token: str


async def disclose_for_emergency(
    command: DiscloseForEmergency,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
    new_id: IdFactory,
) -> EmergencyAccess:
    """The whole referral for a clinician of an organization it joins, recorded at once.

    Checked in order: the scope, the request's values, whether the caller may know of
    the referral (NOT_FOUND alike when missing), then the caller's role.
    """
    attempt = Access(EMERGENCY_DISCLOSE, None, None, PurposeOfUse.ETREAT)
    await require_scope(caller, REFERRALS_EMERGENCY, denials, attempt)
    request = validate_emergency_request(
        command.referral_id,
        command.nature_of_emergency,
        command.recipient_facility,
        command.request_id,
    )
    attempt = replace(attempt, referral_id=str(request.referral_id))
    refusal: DomainError
    try:
        async with uow:
            referral = await uow.referrals.get(request.referral_id)
            if referral is None or not may_know(caller, referral):
                refusal = NotFound(f"referral {request.referral_id} not found")
                reason = "no such referral" if referral is None else "not visible to the caller"
            elif (refused := emergency_refusal(caller)) is not None:
                refusal, reason = PermissionDenied(refused), refused
            else:
                return await _disclose(uow, request, referral, caller, clock, new_id)
    except DuplicateRequestId:
        # A concurrent call with this request id committed first: answer with its record.
        async with uow:
            return await _repeat(uow, request, caller)
    member = referral.subject_member_id if referral is not None else None
    await denials.record_denied(replace(attempt, subject_member_id=member, reason=reason))
    raise refusal


async def _disclose(
    uow: UnitOfWork,
    request: EmergencyRequest,
    referral: Referral,
    caller: Principal,
    clock: Clock,
    new_id: IdFactory,
) -> EmergencyAccess:
    if request.request_id is not None:
        earlier = await uow.emergency_disclosures.get_by_request_id(
            caller.subject, request.request_id
        )
        if earlier is not None:
            return await _repeat(uow, request, caller, earlier)
    record, event = record_emergency(request, referral, caller, disclosure_id=new_id(), now=clock())
    await uow.emergency_disclosures.add(record)
    await uow.disclosures.add(emergency_log_entry(referral, record))
    why = (
        f"{FLAGGED}: emergency disclosure {record.emergency_disclosure_id} "
        f"to {record.recipient_organization_id} without consent (42 CFR 2.51)"
    )
    await uow.record_access(
        Access(
            EMERGENCY_DISCLOSE,
            str(referral.referral_id),
            referral.subject_member_id,
            PurposeOfUse.ETREAT,
            why,
        )
    )
    await uow.publish(event)
    await uow.commit()
    log.warning(
        "emergency disclosure",
        emergency_disclosure_id=str(record.emergency_disclosure_id),
        referral_id=str(referral.referral_id),
        recipient_organization_id=record.recipient_organization_id,
        disclosing_organization_id=record.disclosing_organization_id,
    )
    return EmergencyAccess(referral, record)


async def _repeat(
    uow: UnitOfWork,
    request: EmergencyRequest,
    caller: Principal,
    earlier: EmergencyDisclosure | None = None,
) -> EmergencyAccess:
    """The answer of the first call with this request id; it disclosed, this one repeats."""
    assert request.request_id is not None
    if earlier is None:
        earlier = await uow.emergency_disclosures.get_by_request_id(
            caller.subject, request.request_id
        )
    if earlier is None or not same_request(earlier, request):
        raise Conflict("request_id was already used for a different emergency disclosure")
    referral = await uow.referrals.get(earlier.referral_id)
    assert referral is not None  # a record references its referral
    await uow.record_access(
        Access(
            EMERGENCY_DISCLOSE,
            str(referral.referral_id),
            referral.subject_member_id,
            PurposeOfUse.ETREAT,
            f"repeated request of emergency disclosure {earlier.emergency_disclosure_id}",
        )
    )
    await uow.commit()
    return EmergencyAccess(referral, earlier)


async def list_emergency_disclosures(
    query: ListEmergencyDisclosures,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    limits: PageLimits,
) -> EmergencyDisclosurePage:
    """One page of the program's emergency disclosures, newest first, for its coordinators
    and supervisors; anyone else gets an empty page and the attempt is audited as denied."""
    violations: list[FieldViolation] = []
    check_opaque_id("organization_id", query.organization_id, violations)
    if query.page_size < 0:
        violations.append(FieldViolation("page_size", "must not be negative"))
    if violations:
        raise InvalidArgument("the listing request is not valid", violations)
    attempt = Access(
        EMERGENCY_LIST, None, None, purpose_of_use(caller), resource_type=EMERGENCY_RECORD
    )
    await require_scope(caller, REFERRALS_READ, denials, attempt)
    if query.organization_id not in reviewer_programs(caller):
        await denials.record_denied(replace(attempt, reason="another program's disclosures"))
        return EmergencyDisclosurePage(records=[], next_page_token="")
    # The token carries the filters as its fingerprint, so it only serves this listing.
    where = ReferralFilter(subject_member_id=f"{query.organization_id}:{query.unreviewed_only}")
    after = decode_page_token(query.page_token, where)
    size = limits.size_for(query.page_size)
    async with uow:
        found = await uow.emergency_disclosures.list_for_program(
            query.organization_id,
            unreviewed_only=query.unreviewed_only,
            after=after,
            limit=size + 1,
        )
        page = found[:size]
        await uow.record_access(replace(attempt, reason=f"{len(page)} listed"))
        await uow.commit()
    next_token = ""
    if len(found) > size:
        last = page[-1]
        next_token = encode_page_token(
            Cursor(last.disclosed_at, last.emergency_disclosure_id), where
        )
    return EmergencyDisclosurePage(records=page, next_page_token=next_token)


async def review_emergency_disclosure(
    command: ReviewEmergencyDisclosure,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
) -> EmergencyDisclosure:
    """Mark the record reviewed with a note; NOT_FOUND unless the caller reviews for the
    disclosing program, FAILED_PRECONDITION when it already was."""
    purpose = purpose_of_use(caller)
    attempt = Access(EMERGENCY_REVIEW, None, None, purpose, resource_type=EMERGENCY_RECORD)
    await require_scope(caller, REFERRALS_READ, denials, attempt)
    record_id = parse_uuid(command.emergency_disclosure_id, "emergency_disclosure_id")
    note = validate_review_note(command.review_note)
    attempt = replace(attempt, referral_id=str(record_id))
    refusal: DomainError
    async with uow:
        record = await uow.emergency_disclosures.get(record_id)
        if record is None or record.disclosing_organization_id not in reviewer_programs(caller):
            refusal = NotFound(f"emergency disclosure {record_id} not found")
            reason = "no such record" if record is None else "not the caller's program"
        else:
            try:
                reviewed = review(record, by=caller.subject, note=note, now=clock())
                await uow.emergency_disclosures.mark_reviewed(reviewed)
            except ConcurrentReview:
                refusal = FailedPrecondition("the emergency disclosure was already reviewed")
                reason = "already reviewed"
            except FailedPrecondition as error:
                refusal, reason = error, "already reviewed"
            else:
                await uow.record_access(
                    replace(attempt, subject_member_id=record.subject_member_id, reason="reviewed")
                )
                await uow.commit()
                return reviewed
    member = record.subject_member_id if record is not None else None
    await denials.record_denied(replace(attempt, subject_member_id=member, reason=reason))
    raise refusal
