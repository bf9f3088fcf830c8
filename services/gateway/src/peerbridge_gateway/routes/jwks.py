"""`/.well-known/jwks.json`: the public keys that verify access tokens (RFC 7517), open."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from ..deps import Resources
from ..jwks_document import JWKS_MEDIA_TYPE, JwksNotAvailable
from ..problems import ProblemException, problem_responses

_JWKS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {JWKS_MEDIA_TYPE: {}}, "description": "A JWK Set"}
}


def build_router() -> APIRouter:
    router = APIRouter(tags=["auth"])

    @router.get(
        "/.well-known/jwks.json",
        name="jwks",
        summary="The public keys that verify access tokens",
        response_class=Response,
        responses=_JWKS_RESPONSE | problem_responses(503),
    )
    async def jwks(resources: Resources) -> Response:
        try:
            document = await resources.jwks.get()
        except JwksNotAvailable:
            raise ProblemException(
                status=503,
                title="Service unavailable",
                slug="service-unavailable",
                detail="The keys are unavailable; try again shortly.",
                headers={"Retry-After": "1"},
            ) from None
        return Response(
            content=document.body,
            media_type=JWKS_MEDIA_TYPE,
            headers={"Cache-Control": f"public, max-age={resources.jwks_cache_s}"},
        )

    return router
