"""The member's accounting of disclosures (42 CFR 2.24): who received what, when.

Read by the member and by coordinators and supervisors of the disclosing program; anyone
else asking for a member's log gets an empty page and the attempt is audited as denied,
as for consents. Each allowed read is audited (`disclosure.list`), one record per page.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from peerbridge_platform.auth.principal import Principal
from peerbridge_platform.auth.scopes import REFERRALS_READ

from ..domain.access_rules import purpose_of_use
from ..domain.disclosure import disclosure_visibility
from .audit import DISCLOSURE_LIST, DISCLOSURE_LOG, Access, DeniedAccessLog
from .handlers import require_scope
from .pagination import PageLimits, check_member_listing, decode_page_token, encode_page_token
from .queries import DisclosurePage, ListDisclosures
from .repository import Cursor, DisclosureCursor, ReferralFilter
from .unit_of_work import UnitOfWork


async def list_disclosures(
    query: ListDisclosures,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    limits: PageLimits,
) -> DisclosurePage:
    """One page of the member's disclosures the caller may read, newest first."""
    check_member_listing(query.subject_member_id, query.page_size)
    member = query.subject_member_id
    attempt = Access(
        DISCLOSURE_LIST, None, member, purpose_of_use(caller), resource_type=DISCLOSURE_LOG
    )
    await require_scope(caller, REFERRALS_READ, denials, attempt)
    visible = disclosure_visibility(caller)
    if not visible.may_cover_member(member):
        await denials.record_denied(replace(attempt, reason="another member's disclosures"))
        return DisclosurePage(disclosures=[], next_page_token="")
    # The token carries the member as its filter, so it only serves its own member's log.
    where = ReferralFilter(subject_member_id=member)
    after = _from_token(decode_page_token(query.page_token, where))
    size = limits.size_for(query.page_size)
    async with uow:
        found = await uow.disclosures.list_for_member(member, visible, after=after, limit=size + 1)
        page = found[:size]
        await uow.record_access(replace(attempt, reason=f"{len(page)} listed"))
        await uow.commit()
    next_token = ""
    if len(found) > size:
        last = page[-1]
        assert last.disclosure_id is not None  # stored entries always have one
        position = Cursor(last.disclosed_at, UUID(int=last.disclosure_id))
        next_token = encode_page_token(position, where)
    return DisclosurePage(disclosures=page, next_page_token=next_token)


def _from_token(cursor: Cursor | None) -> DisclosureCursor | None:
    # Page tokens hold a UUID; the log's ids are integers, carried as a UUID's value.
    if cursor is None:
        return None
    return DisclosureCursor(cursor.create_time, cursor.referral_id.int)
