"""Handlers: one small function per use case, over an abstract unit of work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from peerbridge_platform.errors import Conflict, FieldViolation, InvalidArgument, NotFound
from peerbridge_platform.logging import get_logger

from ..domain.commands import CreateReferral
from ..domain.model import Referral, ReferralDetails, open_referral
from ..domain.rules import check_opaque_id, parse_choice, validate_new_referral
from ..domain.values import Status
from .pagination import PageLimits, decode_page_token, encode_page_token
from .queries import GetReferral, ListReferrals, ReferralPage
from .repository import Cursor, DuplicateRequestId, ReferralFilter
from .unit_of_work import UnitOfWork

Clock = Callable[[], datetime]
IdFactory = Callable[[], UUID]

log = get_logger(__name__)


async def create_referral(
    command: CreateReferral, uow: UnitOfWork, *, clock: Clock, new_id: IdFactory
) -> Referral:
    """Create a referral, or return the one an earlier call with this request id created."""
    details = validate_new_referral(command)
    request_id = command.request_id or None
    try:
        async with uow:
            if request_id is not None:
                existing = await uow.referrals.get_by_request_id(request_id)
                if existing is not None:
                    return _same_request(existing, details)
            referral, created = open_referral(
                details, referral_id=new_id(), request_id=request_id, now=clock()
            )
            await uow.referrals.add(referral)
            await uow.publish(created)
            await uow.commit()
    except DuplicateRequestId:
        # A concurrent call with this request id committed first: answer with its referral.
        async with uow:
            existing = await uow.referrals.get_by_request_id(command.request_id)
        if existing is None:
            raise  # the other referral vanished: nothing sensible to return
        return _same_request(existing, details)
    log.info(
        "referral created",
        referral_id=str(referral.referral_id),
        direction=referral.direction.value,
        category=referral.category.value,
        recipient_organization_id=referral.recipient.organization_id,
    )
    return referral


def _same_request(existing: Referral, details: ReferralDetails) -> Referral:
    if existing.details != details:
        raise Conflict("request_id was already used for a different referral")
    return existing


async def get_referral(query: GetReferral, uow: UnitOfWork) -> Referral:
    referral_id = _parse_referral_id(query.referral_id)
    async with uow:
        referral = await uow.referrals.get(referral_id)
    if referral is None:
        raise NotFound(f"referral {referral_id} not found")
    return referral


def _parse_referral_id(value: str) -> UUID:
    description = "is required" if not value else "must be a UUID"
    try:
        return UUID(value)
    except ValueError:
        raise InvalidArgument(
            "referral_id is not valid", [FieldViolation("referral_id", description)]
        ) from None


async def list_referrals(
    query: ListReferrals, uow: UnitOfWork, *, limits: PageLimits
) -> ReferralPage:
    """One page, newest first; the token of the next page is empty on the last one."""
    where = _parse_filter(query)
    size = limits.size_for(query.page_size)
    after = decode_page_token(query.page_token, where)
    async with uow:
        # One more than asked tells whether another page follows.
        found = await uow.referrals.list(where, after=after, limit=size + 1)
    page = found[:size]
    next_token = ""
    if len(found) > size:
        last = page[-1]
        next_token = encode_page_token(Cursor(last.create_time, last.referral_id), where)
    return ReferralPage(referrals=page, next_page_token=next_token)


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
