"""`/v1/worklist`: an organization's overdue referrals and closed loops, for its coordinators
and supervisors.

The referrals service decides who reads which worklist; anyone else gets an empty page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from peerbridge_platform.auth.scopes import REFERRALS_READ

from ..deps import CurrentCaller, Idempotent, Worklist, require_scopes
from ..problems import problem_responses
from ..schemas.worklist import SeenIn, WorklistListQuery, WorklistPageOut

ItemId = Annotated[str, Path(min_length=1, max_length=128)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/worklist", tags=["worklist"])

    @router.get(
        "",
        name="list_worklist",
        summary="List an organization's overdue referrals and closed loops, oldest first",
        response_model=WorklistPageOut,
        dependencies=[require_scopes(REFERRALS_READ)],
        responses=problem_responses(400, 401, 403, 422, 500, 503, 504),
    )
    async def list_worklist(
        query: Annotated[WorklistListQuery, Query()], worklist: Worklist, caller: CurrentCaller
    ) -> WorklistPageOut:
        """Overdue referrals on either side (until their status changes) and the referrals
        the organization sent that closed in the last days, until marked seen."""
        page = await worklist.list_worklist(query.to_port(), caller=caller)
        return WorklistPageOut.from_port(page)

    @router.post(
        "/{item_id}/seen",
        name="mark_worklist_item_seen",
        summary="Mark a closed-loop item seen, so it leaves the worklist",
        status_code=204,
        dependencies=[require_scopes(REFERRALS_READ)],
        responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 500, 503, 504),
    )
    async def mark_seen(
        item_id: ItemId,
        body: SeenIn,
        worklist: Worklist,
        caller: CurrentCaller,
        idempotent: Idempotent,
    ) -> Response:
        """Marking it again changes nothing; 404 when it is not on the caller's worklist."""

        async def mark() -> Response:
            await worklist.mark_seen(item_id, caller=caller)
            return Response(status_code=204)

        return await idempotent.respond(body, mark)

    return router
