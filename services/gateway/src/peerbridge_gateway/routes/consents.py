"""`/v1/consents`: record, read, list and revoke a member's consent to disclose (42 CFR 2.31).

The referrals service decides who may do what: the member and staff of the disclosing
program record and revoke; a recipient reads only the consents naming it (404 otherwise).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import JSONResponse, Response

from peerbridge_platform.auth.scopes import CONSENTS_WRITE, REFERRALS_READ

from ..deps import (
    Consents,
    CurrentCaller,
    Idempotent,
    require_scopes,
)
from ..problems import problem_responses
from ..schemas.consents import (
    ConsentListQuery,
    ConsentOut,
    ConsentPageOut,
    ConsentTermsBody,
    RevocationIn,
)

ConsentId = Annotated[str, Path(min_length=1, max_length=128)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/consents", tags=["consents"])

    @router.post(
        "",
        name="record_consent",
        summary="Record a member's consent to disclose (42 CFR 2.31)",
        status_code=201,
        response_model=ConsentOut,
        dependencies=[require_scopes(CONSENTS_WRITE)],
        responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 500, 503, 504),
    )
    async def record_consent(
        body: ConsentTermsBody,
        request: Request,
        consents: Consents,
        caller: CurrentCaller,
        idempotent: Idempotent,
    ) -> Response:
        """The member records their own consent, or staff of the disclosing program record
        it for them (a member needs only `referrals.read`). A missing or bad 2.31 element
        is a 400 naming each field."""

        async def record() -> Response:
            consent = await consents.record_consent(
                body.to_port(), caller=caller, idempotency_key=idempotent.key
            )
            location = request.app.url_path_for("get_consent", consent_id=consent.consent_id)
            return JSONResponse(
                ConsentOut.from_port(consent).model_dump(mode="json"),
                status_code=201,
                headers={"Location": str(location)},
            )

        return await idempotent.respond(body, record)

    @router.get(
        "/{consent_id}",
        name="get_consent",
        summary="Read one consent",
        response_model=ConsentOut,
        dependencies=[require_scopes(REFERRALS_READ)],
        responses=problem_responses(401, 403, 404, 422, 500, 503, 504),
    )
    async def get_consent(
        consent_id: ConsentId, consents: Consents, caller: CurrentCaller
    ) -> ConsentOut:
        """404 when it does not exist or the caller may not see it."""
        return ConsentOut.from_port(await consents.get_consent(consent_id, caller=caller))

    @router.post(
        "/{consent_id}/revoke",
        name="revoke_consent",
        summary="Revoke a consent, at once",
        response_model=ConsentOut,
        dependencies=[require_scopes(CONSENTS_WRITE)],
        responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503, 504),
    )
    async def revoke_consent(
        consent_id: ConsentId,
        body: RevocationIn,
        consents: Consents,
        caller: CurrentCaller,
        idempotent: Idempotent,
    ) -> Response:
        """Revoking a revoked consent answers it unchanged; 403 when the caller sees the
        consent but may not revoke it (a recipient), 404 when they do not see it."""

        async def revoke() -> Response:
            consent = await consents.revoke_consent(consent_id, body.reason, caller=caller)
            return JSONResponse(ConsentOut.from_port(consent).model_dump(mode="json"))

        return await idempotent.respond(body, revoke)

    @router.get(
        "",
        name="list_consents",
        summary="List a member's consents, newest first, a page at a time",
        response_model=ConsentPageOut,
        dependencies=[require_scopes(REFERRALS_READ)],
        responses=problem_responses(400, 401, 403, 422, 500, 503, 504),
    )
    async def list_consents(
        query: Annotated[ConsentListQuery, Query()], consents: Consents, caller: CurrentCaller
    ) -> ConsentPageOut:
        """Only the consents the caller may see."""
        page = await consents.list_consents(query.to_port(), caller=caller)
        return ConsentPageOut.from_port(page)

    return router
