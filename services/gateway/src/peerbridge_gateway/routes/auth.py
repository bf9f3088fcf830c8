"""`/v1/auth/token` (RFC 6749) and `/v1/auth/revoke` (RFC 7009), backed by identity's
TokenService.

Both are open: their callers have no access token yet, and each grant
authenticates itself. Idempotency-Key is deliberately not honoured here (an
exception to "every POST"): a token response carries fresh credentials that
must never be stored (`Cache-Control: no-store`), and a replay would hand out
tokens again without the grant being checked, which would defeat refresh token
rotation and its reuse detection. A client that lost an answer simply asks again.

Passwords, assertions and tokens are never logged: the grants keep them out of
their repr, and nothing here logs a form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from ..clients.errors import ServiceError
from ..clients.tokens import Grant
from ..deps import Resources
from ..oauth import (
    FORM_MEDIA_TYPE,
    GRANT_TYPES,
    NO_STORE,
    OAuthError,
    OAuthErrorBody,
    TokenResponse,
    grant_from,
    invalid_request,
    oauth_error_from,
    parse_form,
    parse_scope,
    token_response,
)
from ..problems import from_service_error, problem_responses

_TOKEN_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": list(GRANT_TYPES)},
        "scope": {
            "type": "string",
            "description": "Space-delimited scopes; omit for every scope the caller may have.",
        },
        "username": {"type": "string", "description": "password grant"},
        "password": {"type": "string", "format": "password", "description": "password grant"},
        "refresh_token": {"type": "string", "description": "refresh_token grant"},
        "client_assertion_type": {
            "type": "string",
            "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
            "description": "client_credentials grant",
        },
        "client_assertion": {
            "type": "string",
            "description": "client_credentials grant: a JWT signed with the client's key",
        },
    },
}
_REVOKE_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["token"],
    "properties": {
        "token": {"type": "string", "description": "a refresh token"},
        "token_type_hint": {"type": "string"},
    },
}


def _form_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {FORM_MEDIA_TYPE: {"schema": schema}}}}


def _oauth_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": OAuthErrorBody, "description": "OAuth2 error (RFC 6749 §5.2)"}
        for status in statuses
    }


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/auth", tags=["auth"])

    @router.post(
        "/token",
        name="issue_token",
        summary="Get an access token (password, refresh_token or client_credentials grant)",
        response_model=TokenResponse,
        openapi_extra=_form_body(_TOKEN_FORM),
        responses=_oauth_errors(400, 401) | problem_responses(413, 429, 500, 503, 504),
    )
    async def issue_token(request: Request, resources: Resources) -> Response:
        grant: Grant | None = None
        try:
            form = parse_form(await request.body(), request.headers.get("content-type"))
            grant = grant_from(form)
            issued = await resources.tokens.issue_token(
                grant, scopes=parse_scope(form.get("scope")), client_address=_address(request)
            )
        except OAuthError as error:
            return _oauth_error(error)
        except ServiceError as error:
            return _refused(error, grant)
        return JSONResponse(
            token_response(issued).model_dump(mode="json", exclude_none=True), headers=NO_STORE
        )

    @router.post(
        "/revoke",
        name="revoke_token",
        summary="Revoke a refresh token and its family (200 for unknown tokens too)",
        openapi_extra=_form_body(_REVOKE_FORM),
        responses={200: {"description": "Revoked, or never valid"}}
        | _oauth_errors(400)
        | problem_responses(413, 429, 500, 503, 504),
    )
    async def revoke_token(request: Request, resources: Resources) -> Response:
        try:
            form = parse_form(await request.body(), request.headers.get("content-type"))
            token = form.get("token")
            if token is None:
                raise invalid_request("The token parameter is required.")
            await resources.tokens.revoke_token(token, client_address=_address(request))
        except OAuthError as error:
            return _oauth_error(error)
        except ServiceError as error:
            return _refused(error, None)
        return Response(status_code=200, headers=NO_STORE)

    return router


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _oauth_error(error: OAuthError) -> Response:
    return JSONResponse(
        error.body(), status_code=error.status, headers={**error.headers, **NO_STORE}
    )


def _refused(error: ServiceError, grant: Grant | None) -> Response:
    """Identity's refusal as an OAuth error, or (not the client's doing) as a problem."""
    oauth = oauth_error_from(error, grant)
    if oauth is not None:
        return _oauth_error(oauth)
    raise from_service_error(error)
