"""`/v1/disclosures`: a member's accounting of disclosures (42 CFR 2.24).

The referrals service decides who reads which member's log: the member, and coordinators
and supervisors of the disclosing program; anyone else gets an empty page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from peerbridge_platform.auth.scopes import REFERRALS_READ

from ..deps import CurrentCaller, Disclosures, require_scopes
from ..problems import problem_responses
from ..schemas.disclosures import DisclosureListQuery, DisclosurePageOut


def build_router() -> APIRouter:
    router = APIRouter(prefix="/disclosures", tags=["disclosures"])

    @router.get(
        "",
        name="list_disclosures",
        summary="List a member's disclosures (who received what, when), newest first",
        response_model=DisclosurePageOut,
        dependencies=[require_scopes(REFERRALS_READ)],
        responses=problem_responses(400, 401, 403, 422, 500, 503, 504),
    )
    async def list_disclosures(
        query: Annotated[DisclosureListQuery, Query()],
        disclosures: Disclosures,
        caller: CurrentCaller,
    ) -> DisclosurePageOut:
        """Each entry names the recipient, the date, the consent and a brief description of
        what was disclosed. The log is kept for at least three years."""
        page = await disclosures.list_disclosures(query.to_port(), caller=caller)
        return DisclosurePageOut.from_port(page)

    return router
