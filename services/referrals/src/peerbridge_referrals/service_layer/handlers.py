"""Handlers: one small function per use case, over an abstract unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth.authorization import require_scopes
from peerbridge_platform.auth.principal import Principal
from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE
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

from ..domain.access_rules import create_refusal, purpose_of_use, visibility_for
from ..domain.commands import CreateReferral, UpdateReferralStatus
from ..domain.consent import Consent
from ..domain.disclosure import Disclosure, DisclosureChannel, disclosure_for, log_entry
from ..domain.events import ReferralCreated
from ..domain.lifecycle import actor_for, change_status, validate_status_change
from ..domain.model import Referral, ReferralDetails, open_referral
from ..domain.read_gate import (
    READ_DESCRIPTION,
    GatedRead,
    gate_answer,
    gate_read,
    is_disclosure,
)
from ..domain.rules import check_opaque_id, is_opaque_id, parse_choice, validate_new_referral
from ..domain.values import Status
from .audit import CREATE, DISCLOSE, LIST, READ, UPDATE_STATUS, Access, DeniedAccessLog
from .pagination import PageLimits, decode_page_token, encode_page_token
from .queries import GetReferral, ListReferrals, ReferralPage
from .repository import Cursor, DuplicateRequestId, ReferralFilter, StaleVersion
from .unit_of_work import UnitOfWork

Clock = Callable[[], datetime]
IdFactory = Callable[[], UUID]

log = get_logger(__name__)


def now_utc() -> datetime:
    return datetime.now(UTC)


async def create_referral(
    command: CreateReferral,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
    new_id: IdFactory,
) -> Referral:
    """Create a referral, or return the one an earlier call with this request id created.

    Checked in order: the token's scope, the request's values, then whether the
    caller may create this referral (its own organization, its own name).
    """
    purpose = purpose_of_use(caller)
    claimed_member = command.subject_member_id if is_opaque_id(command.subject_member_id) else None
    await require_scope(
        caller, REFERRALS_WRITE, denials, Access(CREATE, None, claimed_member, purpose)
    )
    details = validate_new_referral(command)
    refusal = create_refusal(caller, details)
    if refusal is not None:
        await denials.record_denied(
            Access(CREATE, None, details.subject_member_id, purpose, refusal)
        )
        raise PermissionDenied(refusal)
    request_id = command.request_id or None
    try:
        async with uow:
            if request_id is not None:
                existing = await uow.referrals.get_by_request_id(request_id)
                if existing is not None:
                    return await _repeat(existing, details, uow, purpose)
            referral, _ = open_referral(
                details, referral_id=new_id(), request_id=request_id, now=clock()
            )
            await add_new_referral(uow, referral, purpose)
            await uow.commit()
    except DuplicateRequestId:
        # A concurrent call with this request id committed first: answer with its referral.
        async with uow:
            existing = await uow.referrals.get_by_request_id(command.request_id)
            if existing is not None:
                return await _repeat(existing, details, uow, purpose)
        raise  # the other referral vanished: nothing sensible to return
    log.info(
        "referral created",
        referral_id=str(referral.referral_id),
        direction=referral.direction.value,
        category=referral.category.value,
        recipient_organization_id=referral.recipient.organization_id,
    )
    return referral


async def add_new_referral(
    uow: UnitOfWork, referral: Referral, purpose: PurposeOfUse, reason: str | None = None
) -> Disclosure:
    """Store a new referral in the caller's open transaction with its audit record, the
    consent gate's decision and its events: every way a referral is created goes through
    here (a create request, a crisis escalation)."""
    await uow.referrals.add(referral)
    await uow.record_access(_access(CREATE, referral, purpose, reason))
    disclosure = await _gate(uow, referral, referral.create_time)
    await uow.publish(ReferralCreated(referral, disclosure))
    return disclosure


async def _repeat(
    existing: Referral, details: ReferralDetails, uow: UnitOfWork, purpose: PurposeOfUse
) -> Referral:
    """The referral an earlier request with the same id and the same details created.

    Equal details, which this caller was allowed to create, show it nothing new.
    """
    referral = _same_request(existing, details)
    await uow.record_access(_access(CREATE, referral, purpose, "repeated request"))
    await uow.commit()
    return referral


def _same_request(existing: Referral, details: ReferralDetails) -> Referral:
    if existing.details != details:
        raise Conflict("request_id was already used for a different referral")
    return existing


async def read_referral(
    query: GetReferral,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock = now_utc,
) -> GatedRead:
    """The referral, if the caller may see it; NOT_FOUND alike whether it is missing or
    someone else's, since its existence is itself sensitive. Read by its recipient, it is
    gated by the member's consent (`domain.read_gate`)."""
    referral_id = parse_uuid(query.referral_id)
    purpose = purpose_of_use(caller)
    await require_scope(
        caller, REFERRALS_READ, denials, Access(READ, str(referral_id), None, purpose)
    )
    async with uow:
        referral = await uow.referrals.get(referral_id)
        if referral is not None and visibility_for(caller).admits(referral):
            await uow.record_access(_access(READ, referral, purpose))
            [read] = await _gate_reads(uow, caller, [referral], clock())
            await uow.commit()
            return read
    # Probing for ids is worth a record too, so a missing referral is audited as well.
    await denials.record_denied(
        Access(
            READ,
            str(referral_id),
            referral.subject_member_id if referral is not None else None,
            purpose,
            "not visible to the caller" if referral is not None else "no such referral",
        )
    )
    raise NotFound(f"referral {referral_id} not found")


async def _gate_reads(
    uow: UnitOfWork, caller: Principal, referrals: list[Referral], at: datetime
) -> list[GatedRead]:
    """Each referral as the caller may read it. A read by the recipient is a disclosure:
    audited as one with why, and logged when full, in the read's transaction."""
    reads: list[GatedRead] = []
    for referral in referrals:
        consents: list[Consent] = []
        if is_disclosure(caller, referral):
            consents = await uow.consents.active_for_member(referral.subject_member_id)
        read = gate_read(caller, referral, consents, at)
        if (decision := read.decision) is not None:
            if decision.consent is not None:
                entry = log_entry(
                    referral,
                    decision.consent,
                    at,
                    purpose=decision.purpose,
                    description=READ_DESCRIPTION,
                    channel=DisclosureChannel.API_READ,
                )
                await uow.disclosures.add(entry)
            why = f"read by the recipient, {read.disclosure.view.value}: {read.disclosure.reason}"
            access = _access(DISCLOSE, referral, PurposeOfUse(decision.purpose.code), why)
            await uow.record_access(access)
        reads.append(read)
    return reads


async def update_referral_status(
    command: UpdateReferralStatus,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
) -> GatedRead:
    """Move the referral to the status asked for, with the history row, the events and the
    audit record in one transaction; or refuse, change nothing and audit the refusal. The
    answer shows the recipient no more than the change's FHIR view discloses to it.

    Checked in order: the token's scope, the request's values, whether the caller
    may see the referral (NOT_FOUND alike when missing), then the lifecycle rules
    (the caller's side, the version read, the transition).
    """
    purpose = purpose_of_use(caller)
    claimed_id = command.referral_id if _is_uuid(command.referral_id) else None
    await require_scope(
        caller, REFERRALS_WRITE, denials, Access(UPDATE_STATUS, claimed_id, None, purpose)
    )
    change = validate_status_change(command)
    referral_id = str(change.referral_id)
    refusal: DomainError
    async with uow:
        referral = await uow.referrals.get(change.referral_id)
        visible = referral is not None and visibility_for(caller).admits(referral)
        if referral is None or not visible:
            refusal = NotFound(f"referral {referral_id} not found")
            reason = "not visible to the caller" if referral is not None else "no such referral"
        else:
            try:
                changed, event = change_status(
                    referral, change, actor_for(caller, referral), now=clock()
                )
                await uow.referrals.update_status(event)
            except StaleVersion:
                refusal = Conflict("the referral changed while this change was made: read it again")
                reason = "changed concurrently"
            except (PermissionDenied, Conflict, FailedPrecondition) as error:
                refusal, reason = error, str(error)
            else:
                transition = f"status {event.previous_status} to {changed.status}"
                await uow.record_access(_access(UPDATE_STATUS, changed, purpose, transition))
                disclosure = await _gate(uow, changed, changed.update_time)
                await uow.publish(replace(event, disclosure=disclosure))
                await uow.commit()
                log.info(
                    "referral status changed",
                    referral_id=referral_id,
                    from_status=event.previous_status.value,
                    to_status=changed.status.value,
                    version=changed.version,
                )
                return gate_answer(caller, changed, disclosure)
    member = referral.subject_member_id if referral is not None else None
    await denials.record_denied(Access(UPDATE_STATUS, referral_id, member, purpose, reason))
    raise refusal


async def _gate(uow: UnitOfWork, referral: Referral, at: datetime) -> Disclosure:
    """What of `referral` its FHIR view may disclose now: a full view is logged in the
    disclosure log, either decision is audited with why, all in the caller's transaction."""
    consents = await uow.consents.active_for_member(referral.subject_member_id)
    disclosure = disclosure_for(referral, consents, at)
    if disclosure.consent is not None:
        entry = log_entry(referral, disclosure.consent, at, purpose=disclosure.purpose)
        await uow.disclosures.add(entry)
        why = f"full view under consent {disclosure.consent.consent_id}"
    else:
        why = f"minimal view: {disclosure.withheld_because}"
    purpose = PurposeOfUse(disclosure.purpose.code)
    await uow.record_access(_access(DISCLOSE, referral, purpose, why))
    return disclosure


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def parse_uuid(value: str, field: str = "referral_id") -> UUID:
    """`value` as a UUID, or InvalidArgument naming `field`."""
    description = "is required" if not value else "must be a UUID"
    try:
        return UUID(value)
    except ValueError:
        raise InvalidArgument(
            f"{field} is not valid", [FieldViolation(field, description)]
        ) from None


async def list_referrals(
    query: ListReferrals,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    limits: PageLimits,
    clock: Clock = now_utc,
) -> ReferralPage:
    """One page of what the caller may see, newest first; the token of the next page is
    empty on the last one. Asking for another member's referrals returns an empty page."""
    where = _parse_filter(query)
    purpose = purpose_of_use(caller)
    await require_scope(
        caller, REFERRALS_READ, denials, Access(LIST, None, where.subject_member_id, purpose)
    )
    visible = visibility_for(caller)
    if where.subject_member_id is not None and not visible.may_cover_member(
        where.subject_member_id
    ):
        await denials.record_denied(
            Access(LIST, None, where.subject_member_id, purpose, "another member's referrals")
        )
        return ReferralPage(referrals=[], next_page_token="")
    size = limits.size_for(query.page_size)
    after = decode_page_token(query.page_token, where)
    async with uow:
        # One more than asked tells whether another page follows.
        found = await uow.referrals.list(
            replace(where, visible_to=visible), after=after, limit=size + 1
        )
        page = found[:size]
        for referral in page:
            await uow.record_access(_access(LIST, referral, purpose))
        reads = await _gate_reads(uow, caller, page, clock())
        if page:
            await uow.commit()
    next_token = ""
    if len(found) > size:
        last = page[-1]
        next_token = encode_page_token(Cursor(last.create_time, last.referral_id), where)
    return ReferralPage(
        referrals=[read.referral for read in reads],
        next_page_token=next_token,
        disclosures=[read.disclosure for read in reads],
    )


def _parse_filter(query: ListReferrals) -> ReferralFilter:
    """The filters, after checking them and the page size, every bad field at once."""
    violations: list[FieldViolation] = []
    if query.page_size < 0:
        violations.append(FieldViolation("page_size", "must not be negative"))
    if query.subject_member_id is not None:
        check_opaque_id("subject_member_id", query.subject_member_id, violations)
    status = (
        parse_choice(Status, "status", query.status, violations)
        if query.status is not None
        else None
    )
    if violations:
        raise InvalidArgument("the listing request is not valid", violations)
    return ReferralFilter(subject_member_id=query.subject_member_id, status=status)


async def require_scope(
    caller: Principal, scope: str, denials: DeniedAccessLog, attempt: Access
) -> None:
    if scope not in caller.scopes:
        await denials.record_denied(replace(attempt, reason=f"requires scope {scope}"))
        require_scopes(caller, scope)


def _access(
    action: str, referral: Referral, purpose: PurposeOfUse, reason: str | None = None
) -> Access:
    return Access(action, str(referral.referral_id), referral.subject_member_id, purpose, reason)
