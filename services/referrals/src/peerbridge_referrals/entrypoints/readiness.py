"""Readiness: SERVING only while PostgreSQL and Kafka both answer.

Identity is only watched: while it is down, tokens cannot be verified, but
nothing else this service does needs it, so it is logged, not reported.
"""

from __future__ import annotations

import asyncio

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from peerbridge_platform.grpc.readiness import Readiness as ServiceReadiness
from peerbridge_platform.grpc.readiness import keep_health_current, stop_watching
from peerbridge_platform.kafka import KafkaProbe
from peerbridge_platform.logging import get_logger

from ..adapters.database import database_ready

# The loop and its stop come from the platform; every service runs them alike.
__all__ = ["CHECK_TIMEOUT_S", "Readiness", "keep_health_current", "stop_watching", "watch_identity"]

log = get_logger(__name__)

# Each dependency gets this long to answer one check.
CHECK_TIMEOUT_S = 3.0


class Readiness(ServiceReadiness):
    """PostgreSQL and Kafka, each given CHECK_TIMEOUT_S to answer."""

    def __init__(self, pool: asyncpg.Pool, kafka_bootstrap: str) -> None:
        kafka = KafkaProbe(kafka_bootstrap)
        super().__init__(
            {
                "postgresql": lambda: database_ready(pool, CHECK_TIMEOUT_S),
                "kafka": lambda: kafka.ready(CHECK_TIMEOUT_S),
            }
        )


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
