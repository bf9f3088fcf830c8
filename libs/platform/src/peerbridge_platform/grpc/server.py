"""A grpc.aio server with health, reflection and the platform interceptors.

Health tells the truth: it says NOT_SERVING until the owner has checked its
dependencies and calls `set_serving()`, and again from the first moment of a
graceful stop, while in-flight calls drain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..logging import get_logger
from .server_interceptors import default_server_interceptors

# The empty name stands for the whole server in the health protocol.
OVERALL = ""

_log = get_logger("peerbridge_platform.grpc.server")


@dataclass(frozen=True)
class ServiceRegistration:
    """One servicer to serve: its full name (for health and reflection) and how to add it.

    For example `ServiceRegistration(
        referrals_service_pb2.DESCRIPTOR.services_by_name["ReferralsService"].full_name,
        lambda server: add_ReferralsServiceServicer_to_server(servicer, server))`.
    """

    name: str
    add_to_server: Callable[[grpc.aio.Server], None]


class GrpcServer:
    """A started server; build it with `start_server`."""

    def __init__(
        self, server: Any, health_servicer: Any, port: int, host: str, service_names: Sequence[str]
    ) -> None:
        self._server = server
        self._health = health_servicer
        self._service_names = tuple(service_names)
        self.port = port
        self.address = f"{host}:{port}"

    @property
    def service_names(self) -> tuple[str, ...]:
        return self._service_names

    async def set_serving(self) -> None:
        """Report SERVING for the server and each service (the owner's dependencies are ready)."""
        await self._set_all(health_pb2.HealthCheckResponse.SERVING)

    async def set_not_serving(self) -> None:
        """Report NOT_SERVING, for example while a dependency is down."""
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)

    async def stop(self, grace: float | None) -> None:
        """Say NOT_SERVING (for good), then let in-flight calls finish for up to `grace` seconds."""
        await self._health.enter_graceful_shutdown()
        _log.info("grpc server stopping", address=self.address, grace_s=grace)
        await self._server.stop(grace)

    async def wait_for_termination(self) -> None:
        """Return when the server has stopped (after `stop`, or if gRPC shut it down)."""
        await self._server.wait_for_termination()

    async def _set_all(self, status: Any) -> None:
        for name in (OVERALL, *self._service_names):
            await self._health.set(name, status)


async def start_server(
    address: str,
    services: Sequence[ServiceRegistration],
    *,
    interceptors: Sequence[grpc.aio.ServerInterceptor] | None = None,
    credentials: grpc.ServerCredentials | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> GrpcServer:
    """Bind `address` ("host:port", port 0 picks a free one), start, and report NOT_SERVING.

    `interceptors` defaults to `default_server_interceptors()`.
    """
    server = grpc.aio.server(
        interceptors=list(default_server_interceptors() if interceptors is None else interceptors),
        options=list(options),
    )
    names = [service.name for service in services]
    for service in services:
        service.add_to_server(server)
    health_servicer = health.aio.HealthServicer()
    for name in (OVERALL, *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port = (
        server.add_secure_port(address, credentials)
        if credentials is not None
        else server.add_insecure_port(address)
    )
    if not port:
        raise OSError(f"could not bind gRPC server to {address}")
    await server.start()
    host = address.rpartition(":")[0]
    _log.info("grpc server started", address=f"{host}:{port}", services=names)
    return GrpcServer(server, health_servicer, port, host, names)
