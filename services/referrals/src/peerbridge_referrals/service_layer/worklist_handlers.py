"""Follow-up use cases: sweep for newly overdue referrals, read and clear a worklist.

The sweep runs inside the service, with no caller: each batch is one transaction that
locks the referrals it raises (others' locked rows are skipped), keeps each overdue
state once and enqueues its ReferralOverdue event with it. Reading a worklist is
audited per listed referral (worklist.list), marking an item seen as worklist.mark_seen;
refusals are audited as denied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from peerbridge_platform.auth.context import require_principal
from peerbridge_platform.auth.principal import Principal
from peerbridge_platform.auth.scopes import REFERRALS_READ
from peerbridge_platform.errors import FieldViolation, InvalidArgument, NotFound
from peerbridge_platform.logging import get_logger

from ..domain.access_rules import purpose_of_use
from ..domain.overdue import OverdueWindows, ReferralOverdue, newly_overdue
from ..domain.rules import check_opaque_id
from ..domain.worklist import WorklistItem, may_read_worklist, worklist_organization
from .audit import Access, DeniedAccessLog
from .handlers import Clock, parse_uuid, require_scope
from .pagination import PageLimits, decode_page_token, encode_page_token
from .repository import Cursor, ReferralFilter
from .unit_of_work import UnitOfWork

log = get_logger(__name__)

WORKLIST_LIST = "worklist.list"
WORKLIST_MARK_SEEN = "worklist.mark_seen"


@dataclass(frozen=True)
class SweepSettings:
    windows: OverdueWindows
    batch_size: int = 100


@dataclass(frozen=True)
class ListWorklist:
    organization_id: str
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class WorklistPage:
    items: list[WorklistItem]
    next_page_token: str


@dataclass(frozen=True)
class MarkWorklistItemSeen:
    item_id: str


async def sweep_overdue(uow: UnitOfWork, *, settings: SweepSettings, clock: Clock) -> int:
    """Raise one batch of newly overdue referrals; the number raised (a full batch means
    there may be more)."""
    now = clock()
    async with uow:
        due = await uow.worklist.claim_due(settings.windows, now, settings.batch_size)
        raised = 0
        for state in newly_overdue(due, settings.windows, now, set()):
            if await uow.worklist.raise_overdue(state, now):
                await uow.publish(ReferralOverdue(state, now))
                raised += 1
        if raised:
            await uow.commit()
    return raised


async def list_worklist(
    query: ListWorklist,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    limits: PageLimits,
    clock: Clock,
    closed_recently: timedelta,
) -> WorklistPage:
    """One page of the organization's worklist, oldest first; an empty page for a caller
    who may not read it."""
    violations: list[FieldViolation] = []
    check_opaque_id("organization_id", query.organization_id, violations)
    if query.page_size < 0:
        violations.append(FieldViolation("page_size", "must not be negative"))
    if violations:
        raise InvalidArgument("the worklist request is not valid", violations)
    purpose = purpose_of_use(caller)
    attempt = Access(WORKLIST_LIST, None, None, purpose)
    await require_scope(caller, REFERRALS_READ, denials, attempt)
    if not may_read_worklist(caller, query.organization_id):
        await denials.record_denied(
            Access(WORKLIST_LIST, None, None, purpose, "another organization's worklist")
        )
        return WorklistPage(items=[], next_page_token="")
    # The token carries the organization as its filter: it serves that worklist only.
    where = ReferralFilter(subject_member_id=query.organization_id)
    after = decode_page_token(query.page_token, where)
    size = limits.size_for(query.page_size)
    async with uow:
        found = await uow.worklist.list_items(
            query.organization_id,
            closed_since=clock() - closed_recently,
            after=after,
            limit=size + 1,
        )
        page = found[:size]
        for item in page:
            await uow.record_access(
                Access(
                    WORKLIST_LIST,
                    str(item.referral_id),
                    item.subject_member_id,
                    purpose,
                    item.kind.value,
                )
            )
        if page:
            await uow.commit()
    next_token = ""
    if len(found) > size:
        last = page[-1]
        next_token = encode_page_token(Cursor(last.item_time, last.referral_id), where)
    return WorklistPage(items=page, next_page_token=next_token)


async def mark_item_seen(
    command: MarkWorklistItemSeen,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
) -> None:
    """Clear a closed-loop item from the caller's organization's worklist; NOT_FOUND alike
    when there is no such item and when the caller has no worklist."""
    referral_id = parse_uuid(command.item_id, "item_id")
    purpose = purpose_of_use(caller)
    attempt = Access(WORKLIST_MARK_SEEN, str(referral_id), None, purpose)
    # The read scope: marking seen changes only what the reader's worklist shows.
    await require_scope(caller, REFERRALS_READ, denials, attempt)
    organization = worklist_organization(caller)
    if organization is not None:
        async with uow:
            member = await uow.worklist.mark_seen(
                organization, referral_id, by=caller.subject, now=clock()
            )
            if member is not None:
                await uow.record_access(
                    Access(WORKLIST_MARK_SEEN, str(referral_id), member, purpose)
                )
                await uow.commit()
                return
    why = "no worklist" if organization is None else "no such closed-loop item"
    await denials.record_denied(Access(WORKLIST_MARK_SEEN, str(referral_id), None, purpose, why))
    raise NotFound(f"worklist item {referral_id} not found")


@dataclass(frozen=True)
class WorklistApplication:
    """The follow-up use cases with their dependencies bound; the caller is the verified
    principal of the current call."""

    uow_factory: Callable[[], UnitOfWork]
    denials: DeniedAccessLog
    clock: Clock
    page_limits: PageLimits
    closed_recently: timedelta

    async def list_worklist(self, query: ListWorklist) -> WorklistPage:
        return await list_worklist(
            query,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            limits=self.page_limits,
            clock=self.clock,
            closed_recently=self.closed_recently,
        )

    async def mark_item_seen(self, command: MarkWorklistItemSeen) -> None:
        await mark_item_seen(
            command,
            self.uow_factory(),
            caller=require_principal(),
            denials=self.denials,
            clock=self.clock,
        )
