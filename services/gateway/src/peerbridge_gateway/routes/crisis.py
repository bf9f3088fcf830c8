"""Crisis escalation: `/v1/risk-flags`, `/v1/members/{member_id}/clinical-contact` and
`/v1/programs/{program_id}/on-call`.

The referrals service decides who may do what and where a flag goes; a raised flag's
answer always carries the crisis line guidance, whatever the route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import JSONResponse, Response

from peerbridge_platform.auth.scopes import RISK_FLAGS_READ, RISK_FLAGS_WRITE

from ..deps import Crisis, CurrentCaller, Idempotent, require_scopes
from ..problems import problem_responses
from ..schemas.crisis import (
    AcknowledgementIn,
    ClinicalContactIn,
    ClinicalContactOut,
    ClinicalContactQuery,
    OnCallIn,
    OnCallOut,
    RaisedFlagOut,
    RiskFlagIn,
    RiskFlagListQuery,
    RiskFlagOut,
    RiskFlagPageOut,
)

Id = Annotated[str, Path(min_length=1, max_length=128)]


def build_router() -> APIRouter:
    router = APIRouter(tags=["crisis"])

    @router.post(
        "/risk-flags",
        name="raise_risk_flag",
        summary="Raise a risk flag about a member and escalate it at once",
        status_code=201,
        response_model=RaisedFlagOut,
        dependencies=[require_scopes(RISK_FLAGS_WRITE)],
        responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 500, 503, 504),
    )
    async def raise_risk_flag(
        body: RiskFlagIn, crisis: Crisis, caller: CurrentCaller, idempotent: Idempotent
    ) -> Response:
        """To the member's clinical contact as an urgent crisis referral when a consent
        allows, otherwise to the program's on-call supervisor, otherwise to its coordinators
        (unhandled until acknowledged). The member about themselves, or staff of the program."""

        async def raise_flag() -> Response:
            raised = await crisis.raise_flag(
                body.to_port(), caller=caller, idempotency_key=idempotent.key
            )
            return JSONResponse(
                RaisedFlagOut.from_port(raised).model_dump(mode="json"), status_code=201
            )

        return await idempotent.respond(body, raise_flag)

    @router.post(
        "/risk-flags/{flag_id}/acknowledge",
        name="acknowledge_risk_flag",
        summary="Take charge of a risk flag",
        response_model=RiskFlagOut,
        dependencies=[require_scopes(RISK_FLAGS_WRITE)],
        responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503, 504),
    )
    async def acknowledge_risk_flag(
        flag_id: Id,
        body: AcknowledgementIn,
        crisis: Crisis,
        caller: CurrentCaller,
        idempotent: Idempotent,
    ) -> Response:
        """Coordinators and supervisors of the program; 404 for anyone else."""

        async def acknowledge() -> Response:
            flag = await crisis.acknowledge_flag(flag_id, caller=caller)
            return JSONResponse(RiskFlagOut.from_port(flag).model_dump(mode="json"))

        return await idempotent.respond(body, acknowledge)

    @router.get(
        "/risk-flags",
        name="list_risk_flags",
        summary="A program's risk flags, newest first, a page at a time",
        response_model=RiskFlagPageOut,
        dependencies=[require_scopes(RISK_FLAGS_READ)],
        responses=problem_responses(400, 401, 403, 422, 500, 503, 504),
    )
    async def list_risk_flags(
        query: Annotated[RiskFlagListQuery, Query()], crisis: Crisis, caller: CurrentCaller
    ) -> RiskFlagPageOut:
        """Coordinators and supervisors of the program; anyone else gets an empty page."""
        page = await crisis.list_flags(
            query.program_id,
            unhandled_only=query.unhandled,
            limit=query.limit,
            cursor=query.cursor,
            caller=caller,
        )
        return RiskFlagPageOut.from_port(page)

    @router.put(
        "/members/{member_id}/clinical-contact",
        name="set_clinical_contact",
        summary="Name a member's designated clinical contact for a program",
        response_model=ClinicalContactOut,
        dependencies=[require_scopes(RISK_FLAGS_WRITE)],
        responses=problem_responses(400, 401, 403, 413, 415, 422, 500, 503, 504),
    )
    async def set_clinical_contact(
        member_id: Id, body: ClinicalContactIn, crisis: Crisis, caller: CurrentCaller
    ) -> ClinicalContactOut:
        """The member, or a coordinator or peer supporter of the program."""
        contact = await crisis.set_clinical_contact(
            member_id, body.program_id, body.organization_id, body.display_name, caller=caller
        )
        return ClinicalContactOut.from_port(contact)

    @router.get(
        "/members/{member_id}/clinical-contact",
        name="get_clinical_contact",
        summary="A member's designated clinical contact for a program",
        response_model=ClinicalContactOut,
        dependencies=[require_scopes(RISK_FLAGS_READ)],
        responses=problem_responses(400, 401, 403, 404, 422, 500, 503, 504),
    )
    async def get_clinical_contact(
        member_id: Id,
        query: Annotated[ClinicalContactQuery, Query()],
        crisis: Crisis,
        caller: CurrentCaller,
    ) -> ClinicalContactOut:
        """The member, or staff of the program; 404 when none is recorded or for anyone else."""
        contact = await crisis.get_clinical_contact(member_id, query.program_id, caller=caller)
        return ClinicalContactOut.from_port(contact)

    @router.put(
        "/programs/{program_id}/on-call",
        name="set_on_call",
        summary="Name the supervisor on call for a program over a period",
        response_model=OnCallOut,
        dependencies=[require_scopes(RISK_FLAGS_WRITE)],
        responses=problem_responses(400, 401, 403, 413, 415, 422, 500, 503, 504),
    )
    async def set_on_call(
        program_id: Id, body: OnCallIn, crisis: Crisis, caller: CurrentCaller
    ) -> OnCallOut:
        """Coordinators of the program. Of overlapping periods, the latest named counts."""
        shift = await crisis.set_on_call(
            program_id, body.supervisor_id, body.start_time, body.end_time, caller=caller
        )
        return OnCallOut.from_port(shift)

    @router.get(
        "/programs/{program_id}/on-call",
        name="get_on_call",
        summary="Who is on call for a program now",
        response_model=OnCallOut,
        dependencies=[require_scopes(RISK_FLAGS_READ)],
        responses=problem_responses(400, 401, 403, 404, 422, 500, 503, 504),
    )
    async def get_on_call(program_id: Id, crisis: Crisis, caller: CurrentCaller) -> OnCallOut:
        """Staff of the program; 404 when nobody is on call."""
        return OnCallOut.from_port(await crisis.get_on_call(program_id, caller=caller))

    return router
