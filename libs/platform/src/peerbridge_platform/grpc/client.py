"""Channels to other services, and waiting for a service to be ready."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..logging import get_logger
from .client_interceptors import default_client_interceptors

_log = get_logger("peerbridge_platform.grpc.client")

# Each health Check gets at most this long, so one lost packet cannot eat the
# whole readiness budget.
_CHECK_TIMEOUT_S = 1.0
_FIRST_POLL_INTERVAL_S = 0.02
_MAX_POLL_INTERVAL_S = 0.5


def create_channel(
    target: str,
    *,
    default_timeout_s: float,
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, Any]] = (),
    interceptors: Sequence[Any] = (),
) -> grpc.aio.Channel:
    """A channel whose calls all have a deadline and carry trace, request id and caller.

    A call without a timeout gets `default_timeout_s`; `interceptors` run after ours.
    """
    chain = [*default_client_interceptors(default_timeout_s), *interceptors]
    if credentials is not None:
        return grpc.aio.secure_channel(
            target, credentials, options=list(options), interceptors=chain
        )
    return grpc.aio.insecure_channel(target, options=list(options), interceptors=chain)


async def wait_for_serving(
    target: str,
    service_name: str = "",
    timeout_s: float = 10.0,
    *,
    credentials: grpc.ChannelCredentials | None = None,
) -> None:
    """Poll the standard health Check at `target` until `service_name` is SERVING.

    Raises TimeoutError, with the last status seen, when `timeout_s` passes first.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    interval = _FIRST_POLL_INTERVAL_S
    last_seen = "no answer"
    channel = (
        grpc.aio.secure_channel(target, credentials)
        if credentials is not None
        else grpc.aio.insecure_channel(target)
    )
    async with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=service_name)
        while (remaining := deadline - loop.time()) > 0:
            try:
                response = await stub.Check(request, timeout=min(_CHECK_TIMEOUT_S, remaining))
            except grpc.aio.AioRpcError as error:
                last_seen = error.code().name
            else:
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last_seen = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            await asyncio.sleep(max(0.0, min(interval, deadline - loop.time())))
            interval = min(interval * 2, _MAX_POLL_INTERVAL_S)
    _log.warning("service not serving in time", target=target, service=service_name)
    raise TimeoutError(
        f"{service_name or 'server'} at {target} not SERVING after {timeout_s}s "
        f"(last seen: {last_seen})"
    )
