"""RFC 9457 problem details (`application/problem+json`) for every error the gateway answers.

Each kind of failure becomes a `ProblemException`; one renderer turns it into
the response, so validation errors, unknown routes, failed service calls and
bugs all look the same to a client.
"""

from __future__ import annotations

import http
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope

from peerbridge_platform.errors import FieldViolation
from peerbridge_platform.grpc import http_status_for
from peerbridge_platform.logging import get_logger

from .clients.errors import ServiceError

PROBLEM_MEDIA_TYPE = "application/problem+json"
REQUEST_ID_SCOPE_KEY = "peerbridge.request_id"
REQUEST_ID_HEADER = "X-Request-ID"

log = get_logger(__name__)


class FieldError(BaseModel):
    """One bad input: which field (a dotted path, a query parameter or a header) and why."""

    model_config = ConfigDict(frozen=True)

    field: str
    detail: str


class Problem(BaseModel):
    """An RFC 9457 problem detail, with PeerBridge's extension members."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


@dataclass
class ProblemException(Exception):
    """Answer the request with this problem (`slug` None means `about:blank`)."""

    status: int
    title: str
    slug: str | None = None
    detail: str | None = None
    errors: Sequence[FieldError] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    extensions: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail or ''}"


@dataclass(frozen=True)
class ProblemRenderer:
    """Renders problems; `type_base` + slug is each problem type's URI."""

    type_base: str

    def render(self, problem: ProblemException, scope: Scope) -> Response:
        body = Problem(
            type=self.type_base + problem.slug if problem.slug else "about:blank",
            title=problem.title,
            status=problem.status,
            detail=problem.detail,
            instance=scope.get("path"),
            request_id=scope.get(REQUEST_ID_SCOPE_KEY),
            errors=list(problem.errors) if problem.errors is not None else None,
        ).model_dump(mode="json", exclude_none=True)
        body.update(problem.extensions)
        headers = dict(problem.headers)
        if request_id := scope.get(REQUEST_ID_SCOPE_KEY):
            # Also on answers made outside the request-id middleware (unhandled errors).
            headers[REQUEST_ID_HEADER] = request_id
        return Response(
            content=_json_bytes(body),
            status_code=problem.status,
            headers=headers,
            media_type=PROBLEM_MEDIA_TYPE,
        )


def _json_bytes(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# -- from each kind of failure ---------------------------------------------------


def from_validation_error(error: RequestValidationError) -> ProblemException:
    details = list(error.errors())
    malformed = next((d for d in details if d.get("type") == "json_invalid"), None)
    if malformed is not None:
        return malformed_json(malformed)
    return ProblemException(
        status=422,
        title="Request validation failed",
        slug="validation-error",
        detail=f"{len(details)} input(s) are not valid; see `errors`.",
        errors=[FieldError(field=_field_name(d["loc"]), detail=d["msg"]) for d in details],
    )


def malformed_json(detail: Mapping[str, Any]) -> ProblemException:
    position = detail["loc"][-1] if len(detail["loc"]) > 1 else None
    reason = (detail.get("ctx") or {}).get("error", "invalid JSON")
    where = f" at character {position}" if isinstance(position, int) else ""
    return ProblemException(
        status=400,
        title="Malformed JSON",
        slug="malformed-json",
        detail=f"The request body is not valid JSON: {reason}{where}.",
    )


def _field_name(loc: Sequence[Any]) -> str:
    """`("body", "requester", "kind")` is `requester.kind`; `("query", "limit")` is `limit`."""
    parts = list(loc[1:]) if len(loc) > 1 else list(loc)
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name


def from_http_exception(error: StarletteHTTPException) -> ProblemException:
    phrase = _phrase(error.status_code)
    detail = error.detail if error.detail and error.detail != phrase else None
    return ProblemException(
        status=error.status_code,
        title=phrase,
        detail=detail,
        headers=dict(error.headers or {}),
    )


# The realm of the gateway's bearer challenges (RFC 6750).
REALM = "peerbridge"


def challenge(*, error: str | None = None, scopes: tuple[str, ...] = ()) -> str:
    """A `WWW-Authenticate` value (RFC 6750 §3): no error code when no token was sent."""
    parts = [f'realm="{REALM}"']
    if error is not None:
        parts.append(f'error="{error}"')
    if scopes:
        parts.append(f'scope="{" ".join(scopes)}"')
    return "Bearer " + ", ".join(parts)


# Slug and title for each canonical code a service may answer with.
_SERVICE_PROBLEMS: dict[grpc.StatusCode, tuple[str, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: ("invalid-argument", "Invalid request"),
    grpc.StatusCode.NOT_FOUND: ("not-found", "Not found"),
    grpc.StatusCode.ALREADY_EXISTS: ("already-exists", "Already exists"),
    grpc.StatusCode.ABORTED: ("conflict", "Conflict"),
    grpc.StatusCode.FAILED_PRECONDITION: ("failed-precondition", "Not allowed in this state"),
    grpc.StatusCode.PERMISSION_DENIED: ("forbidden", "Forbidden"),
    grpc.StatusCode.UNAUTHENTICATED: ("unauthenticated", "Unauthenticated"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: ("too-many-requests", "Too many requests"),
    grpc.StatusCode.DEADLINE_EXCEEDED: ("upstream-timeout", "Upstream timeout"),
    grpc.StatusCode.UNAVAILABLE: ("service-unavailable", "Service unavailable"),
}


def from_service_error(error: ServiceError) -> ProblemException:
    status = http_status_for(error.code)
    slug, title = _SERVICE_PROBLEMS.get(error.code, ("upstream-error", "Upstream error"))
    headers: dict[str, str] = {}
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    if error.code is grpc.StatusCode.UNAUTHENTICATED:
        # The service refused the forwarded token (e.g. it expired on the way): a 401 still
        # says how to authenticate (RFC 6750 §3).
        headers["WWW-Authenticate"] = challenge(error="invalid_token")
    if status < 500:
        # Meant for the caller: the service's message and its field violations.
        detail: str | None = error.message or None
        errors = _field_errors(error.violations) if error.violations else None
    else:
        # The service's own words stay in our log.
        log.warning("service call failed", service=error.service, code=error.code.name)
        detail = _SERVER_SIDE_DETAIL.get(error.code, "The {service} service failed.").format(
            service=error.service
        )
        errors = None
        if error.code is grpc.StatusCode.UNAVAILABLE:
            headers["Retry-After"] = "1"
    return ProblemException(
        status=status, title=title, slug=slug, detail=detail, errors=errors, headers=headers
    )


_SERVER_SIDE_DETAIL = {
    grpc.StatusCode.UNAVAILABLE: "The {service} service is unavailable; try again shortly.",
    grpc.StatusCode.DEADLINE_EXCEEDED: "The {service} service did not answer in time.",
}


def _field_errors(violations: Sequence[FieldViolation]) -> list[FieldError]:
    return [FieldError(field=v.field, detail=v.description) for v in violations]


def internal_error() -> ProblemException:
    return ProblemException(
        status=500,
        title="Internal server error",
        slug="internal-error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
    )


def to_problem(error: Exception) -> ProblemException:
    """The problem that answers `error` (500 for anything unexpected)."""
    if isinstance(error, ProblemException):
        return error
    if isinstance(error, RequestValidationError):
        return from_validation_error(error)
    if isinstance(error, StarletteHTTPException):
        return from_http_exception(error)
    if isinstance(error, ServiceError):
        return from_service_error(error)
    return internal_error()


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_problem_handlers(app: FastAPI, renderer: ProblemRenderer) -> None:
    """Answer every error with problem+json, including unknown routes and bugs."""

    async def handle(request: Request, error: Exception) -> Response:
        return renderer.render(to_problem(error), request.scope)

    async def handle_unexpected(request: Request, error: Exception) -> Response:
        log.error(
            "unhandled error",
            method=request.method,
            path=request.url.path,
            request_id=request.scope.get(REQUEST_ID_SCOPE_KEY),
            exc_info=error,
        )
        return renderer.render(internal_error(), request.scope)

    for kind in (
        ProblemException,
        RequestValidationError,
        StarletteHTTPException,
        ServiceError,
    ):
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(Exception, handle_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these statuses, all with the Problem schema."""
    return {
        status: {"model": Problem, "description": _phrase(status)} for status in sorted(statuses)
    }
