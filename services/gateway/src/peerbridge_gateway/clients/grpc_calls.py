"""What every gRPC adapter of the gateway does alike: translate failures, ask for health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2

from peerbridge_platform.errors import FieldViolation
from peerbridge_platform.grpc import Caller, call_context, current_request_id
from peerbridge_platform.grpc import field_violations as read_field_violations
from peerbridge_platform.grpc.metadata import RETRY_AFTER

from .errors import NotServing, ServiceError

# Reconnect soon after a service comes back, so readiness recovers quickly.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)
# A service asking for a longer wait than this is capped (a client should come back).
_MAX_RETRY_AFTER_S = 3600

Req = TypeVar("Req")
Resp = TypeVar("Resp")
# A service's field name as the HTTP API spells it.
FieldNames = Mapping[str, str] | Callable[[str], str]


async def unary_call(
    service: str,
    method: Callable[..., Awaitable[Resp]],
    request: Req,
    *,
    caller: Caller,
    timeout_s: float,
    field_names: FieldNames | None = None,
) -> Resp:
    """One call with a deadline; the HTTP request's id and the caller travel in metadata."""
    with call_context(request_id=current_request_id(), caller=caller):
        try:
            return await method(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as error:
            raise service_error(service, error, field_names) from None


def service_error(
    service: str, error: grpc.aio.AioRpcError, field_names: FieldNames | None = None
) -> ServiceError:
    """The gateway's view of a failed call; fields renamed to the HTTP API's names."""
    names = field_names or {}
    rename = names if callable(names) else lambda name: names.get(name, name)
    return ServiceError(
        service=service,
        code=error.code(),
        message=error.details() or "",
        violations=[
            FieldViolation(rename(v.field), v.description) for v in read_field_violations(error)
        ],
        retry_after_s=_retry_after(error),
    )


def _retry_after(error: grpc.aio.AioRpcError) -> int | None:
    for key, value in error.trailing_metadata() or ():
        if key.lower() == RETRY_AFTER and isinstance(value, str) and value.strip().isdigit():
            return min(int(value.strip()), _MAX_RETRY_AFTER_S)
    return None


async def check_serving(health: Any, service_name: str, timeout_s: float) -> None:
    """Raise `NotServing` unless the standard health check says `service_name` is SERVING."""
    request = health_pb2.HealthCheckRequest(service=service_name)
    try:
        response = await health.Check(request, timeout=timeout_s)
    except grpc.aio.AioRpcError as error:
        raise NotServing(error.code().name) from None
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        raise NotServing(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
