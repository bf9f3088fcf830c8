"""Readiness: SERVING only while PostgreSQL and Kafka both answer.

Identity is only watched: while it is down, tokens cannot be verified, but
nothing else this service does needs it, so it is logged, not reported.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from peerbridge_platform.grpc import GrpcServer
from peerbridge_platform.kafka import KafkaUnavailable, wait_for_kafka
from peerbridge_platform.logging import get_logger

from ..adapters.database import database_ready

log = get_logger(__name__)

# Each dependency gets this long to answer one check.
CHECK_TIMEOUT_S = 3.0


class Readiness:
    def __init__(self, pool: asyncpg.Pool, kafka_bootstrap: str) -> None:
        self._pool = pool
        self._kafka_bootstrap = kafka_bootstrap

    async def problems(self) -> list[str]:
        """What is not ready; empty when everything is."""
        database, kafka = await asyncio.gather(
            database_ready(self._pool, CHECK_TIMEOUT_S), self._kafka_ready()
        )
        return [name for name, ok in (("postgresql", database), ("kafka", kafka)) if not ok]

    async def _kafka_ready(self) -> bool:
        try:
            await wait_for_kafka(self._kafka_bootstrap, timeout_s=CHECK_TIMEOUT_S)
        except KafkaUnavailable:
            return False
        return True


async def keep_health_current(readiness: Readiness, server: GrpcServer, interval_s: float) -> None:
    """Report SERVING while every dependency answers and NOT_SERVING while one does not."""
    serving: bool | None = None
    while True:
        try:
            problems = await readiness.problems()
        except Exception as error:
            # A check that breaks says nothing good about readiness; keep watching.
            log.exception("readiness check failed")
            problems = [f"readiness check: {error!r}"]
        if not problems and serving is not True:
            await server.set_serving()
            log.info("serving", address=server.address)
        elif problems and serving is not False:
            await server.set_not_serving()
            log.warning("not serving: a dependency is down", down=problems)
        serving = not problems
        await asyncio.sleep(interval_s)


async def stop_watching(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def watch_identity(channel: grpc.aio.Channel, target: str, interval_s: float) -> None:
    """Log when identity (whose keys verify every caller's token) stops or starts answering."""
    health = health_pb2_grpc.HealthStub(channel)
    answering: bool | None = None
    while True:
        try:
            response = await health.Check(health_pb2.HealthCheckRequest(), timeout=CHECK_TIMEOUT_S)
            now_answering = response.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.aio.AioRpcError:
            now_answering = False
        if now_answering and answering is not True:
            log.info("identity answering: access tokens can be verified", target=target)
        elif not now_answering and answering is not False:
            log.warning(
                "identity not answering: calls are refused (UNAUTHENTICATED) until it does",
                target=target,
            )
        answering = now_answering
        await asyncio.sleep(interval_s)
