"""`/v1/referrals`: create, read and list referrals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import JSONResponse, Response

from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE

from ..deps import CurrentCaller, Idempotent, Referrals, require_scopes
from ..problems import problem_responses
from ..schemas.referrals import (
    ReferralIn,
    ReferralListQuery,
    ReferralOut,
    ReferralPageOut,
    StatusChangeIn,
)

ReferralId = Annotated[str, Path(min_length=1, max_length=128)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/referrals", tags=["referrals"])

    @router.post(
        "",
        name="create_referral",
        summary="Create a referral",
        status_code=201,
        response_model=ReferralOut,
        dependencies=[require_scopes(REFERRALS_WRITE)],
        responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 500, 503, 504),
    )
    async def create_referral(
        body: ReferralIn,
        request: Request,
        referrals: Referrals,
        caller: CurrentCaller,
        idempotent: Idempotent,
    ) -> Response:
        async def create() -> Response:
            referral = await referrals.create_referral(
                body.to_port(), caller=caller, idempotency_key=idempotent.key
            )
            location = request.app.url_path_for("get_referral", referral_id=referral.referral_id)
            return JSONResponse(
                ReferralOut.from_port(referral).model_dump(mode="json"),
                status_code=201,
                headers={"Location": str(location)},
            )

        return await idempotent.respond(body, create)

    @router.get(
        "/{referral_id}",
        name="get_referral",
        summary="Read one referral",
        response_model=ReferralOut,
        dependencies=[require_scopes(REFERRALS_READ)],
        responses=problem_responses(401, 403, 404, 422, 500, 503, 504),
    )
    async def get_referral(
        referral_id: ReferralId, referrals: Referrals, caller: CurrentCaller
    ) -> ReferralOut:
        return ReferralOut.from_port(await referrals.get_referral(referral_id, caller=caller))

    @router.post(
        "/{referral_id}/status",
        name="change_referral_status",
        summary="Move a referral to another status (FHIR Task lifecycle)",
        response_model=ReferralOut,
        dependencies=[require_scopes(REFERRALS_WRITE)],
        responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503, 504),
    )
    async def change_referral_status(
        referral_id: ReferralId,
        body: StatusChangeIn,
        referrals: Referrals,
        caller: CurrentCaller,
        idempotent: Idempotent,
    ) -> Response:
        """403 when the caller's side may not set this status, 409 when the referral's
        status does not allow it or it changed since `expected_version`."""

        async def change() -> Response:
            referral = await referrals.update_status(body.to_port(referral_id), caller=caller)
            return JSONResponse(ReferralOut.from_port(referral).model_dump(mode="json"))

        return await idempotent.respond(body, change)

    @router.get(
        "",
        name="list_referrals",
        summary="List referrals, newest first, a page at a time",
        response_model=ReferralPageOut,
        dependencies=[require_scopes(REFERRALS_READ)],
        responses=problem_responses(400, 401, 403, 422, 500, 503, 504),
    )
    async def list_referrals(
        query: Annotated[ReferralListQuery, Query()], referrals: Referrals, caller: CurrentCaller
    ) -> ReferralPageOut:
        page = await referrals.list_referrals(query.to_port(), caller=caller)
        return ReferralPageOut.from_port(page)

    return router
