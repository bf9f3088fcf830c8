"""Canonical status codes: from domain errors (server side) and to HTTP (gateway side)."""

from __future__ import annotations

import grpc

from .. import errors

# Most specific first: a service may subclass these, so the first match by
# isinstance wins.
_DOMAIN_CODES: tuple[tuple[type[errors.DomainError], grpc.StatusCode], ...] = (
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.Conflict, grpc.StatusCode.ABORTED),
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
)

_HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNAVAILABLE: 503,
}


def status_code_for(error: errors.DomainError) -> grpc.StatusCode | None:
    """The canonical code for a domain error; None for a DomainError with no known meaning."""
    for error_type, code in _DOMAIN_CODES:
        if isinstance(error, error_type):
            return code
    return None


def http_status_for(code: grpc.StatusCode) -> int:
    """The HTTP status a gateway answers with for a gRPC status code (500 when unmapped)."""
    return _HTTP_STATUS.get(code, 500)
