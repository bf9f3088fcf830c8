"""Break-the-glass (42 CFR 2.51): `POST /v1/referrals/{id}/emergency-access` for a clinician
treating the member in a medical emergency, and the disclosing program's review:
`GET /v1/emergency-disclosures`, `POST /v1/emergency-disclosures/{id}/review`.

The referrals service decides who may: a clinician (scope `referrals.emergency`) of the
referral's recipient or requester organization discloses (404 for anyone else of another
organization, 403 for other roles); coordinators and supervisors of the disclosing program
list (others get an empty page) and review (404 for others; 409 once reviewed). Reviews
need only `referrals.read`, which supervisors hold: a review records a note, no referral.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import JSONResponse, Response

from peerbridge_platform.auth.scopes import REFERRALS_EMERGENCY, REFERRALS_READ

from ..deps import CurrentCaller, Emergency, Idempotent, require_scopes
from ..problems import problem_responses
from ..schemas.emergency import (
    EmergencyAccessIn,
    EmergencyAccessOut,
    EmergencyDisclosureOut,
    EmergencyListQuery,
    EmergencyPageOut,
    ReviewIn,
)

Id = Annotated[str, Path(min_length=1, max_length=128)]


def build_router() -> APIRouter:
    router = APIRouter(tags=["emergency access"])

    @router.post(
        "/referrals/{referral_id}/emergency-access",
        name="emergency_access",
        summary="Break the glass: the whole referral in a medical emergency (42 CFR 2.51)",
        response_model=EmergencyAccessOut,
        dependencies=[require_scopes(REFERRALS_EMERGENCY)],
        responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503, 504),
    )
    async def emergency_access(
        referral_id: Id,
        body: EmergencyAccessIn,
        emergency: Emergency,
        caller: CurrentCaller,
        idempotent: Idempotent,
    ) -> Response:
        """Without the member's consent: recorded at once (you, your organization and
        facility, the disclosing program, the time and the nature of the emergency), written
        to the member's accounting of disclosures, audited and flagged for the program's
        review. Use only for a bona fide medical emergency."""

        async def disclose() -> Response:
            access = await emergency.disclose(
                body.to_port(referral_id), caller=caller, idempotency_key=idempotent.key
            )
            return JSONResponse(EmergencyAccessOut.from_port(access).model_dump(mode="json"))

        return await idempotent.respond(body, disclose)

    @router.get(
        "/emergency-disclosures",
        name="list_emergency_disclosures",
        summary="A program's emergency disclosures, newest first, a page at a time",
        response_model=EmergencyPageOut,
        dependencies=[require_scopes(REFERRALS_READ)],
        responses=problem_responses(400, 401, 403, 422, 500, 503, 504),
    )
    async def list_emergency_disclosures(
        query: Annotated[EmergencyListQuery, Query()], emergency: Emergency, caller: CurrentCaller
    ) -> EmergencyPageOut:
        """For the program's coordinators and supervisors; anyone else gets an empty page."""
        page = await emergency.list_disclosures(query.to_port(), caller=caller)
        return EmergencyPageOut.from_port(page)

    @router.post(
        "/emergency-disclosures/{emergency_disclosure_id}/review",
        name="review_emergency_disclosure",
        summary="Mark an emergency disclosure reviewed, with a note",
        response_model=EmergencyDisclosureOut,
        dependencies=[require_scopes(REFERRALS_READ)],
        responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503, 504),
    )
    async def review_emergency_disclosure(
        emergency_disclosure_id: Id,
        body: ReviewIn,
        emergency: Emergency,
        caller: CurrentCaller,
        idempotent: Idempotent,
    ) -> Response:
        """Once: a second review is a 409."""

        async def review() -> Response:
            record = await emergency.review(emergency_disclosure_id, body.note, caller=caller)
            return JSONResponse(EmergencyDisclosureOut.from_port(record).model_dump(mode="json"))

        return await idempotent.respond(body, review)

    return router
