"""`/v1/referrals/{referral_id}/notes`: add and read free-text notes on a referral.

The referrals service decides who may do what: staff of either side add notes; a clinic
reads the program's notes only under the member's consent (withheld otherwise, with
why); the member reads the notes shared with them; anyone else gets 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE

from ..deps import CurrentCaller, Idempotent, Notes, require_scopes
from ..problems import problem_responses
from ..schemas.notes import NoteIn, NoteListQuery, NoteOut, NotePageOut
from .referrals import ReferralId


def build_router() -> APIRouter:
    router = APIRouter(prefix="/referrals", tags=["notes"])

    @router.post(
        "/{referral_id}/notes",
        name="add_referral_note",
        summary="Add a note to a referral (encrypted at rest)",
        status_code=201,
        response_model=NoteOut,
        dependencies=[require_scopes(REFERRALS_WRITE)],
        responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503, 504),
    )
    async def add_referral_note(
        referral_id: ReferralId,
        body: NoteIn,
        request: Request,
        notes: Notes,
        caller: CurrentCaller,
        idempotent: Idempotent,
    ) -> Response:
        """Staff of either side of the referral; 403 for a caller who sees it but writes
        for neither side (a member), 404 when the caller does not see it."""

        async def add() -> Response:
            note = await notes.add_note(
                referral_id,
                body.text,
                body.shared_with_member,
                caller=caller,
                idempotency_key=idempotent.key,
            )
            location = request.app.url_path_for("list_referral_notes", referral_id=referral_id)
            return JSONResponse(
                NoteOut.from_port(note).model_dump(mode="json"),
                status_code=201,
                headers={"Location": str(location)},
            )

        return await idempotent.respond(body, add)

    @router.get(
        "/{referral_id}/notes",
        name="list_referral_notes",
        summary="List a referral's notes, newest first, a page at a time",
        response_model=NotePageOut,
        dependencies=[require_scopes(REFERRALS_READ)],
        responses=problem_responses(400, 401, 403, 404, 422, 500, 503, 504),
    )
    async def list_referral_notes(
        referral_id: ReferralId,
        query: Annotated[NoteListQuery, Query()],
        notes: Notes,
        caller: CurrentCaller,
    ) -> NotePageOut:
        """Each note as the caller may read it: withheld notes come without text."""
        page = await notes.list_notes(query.to_port(referral_id), caller=caller)
        return NotePageOut.from_port(page)

    return router
