"""Readiness: SERVING only while PostgreSQL and Kafka both answer."""

from __future__ import annotations

import asyncpg

from peerbridge_platform.grpc.readiness import Readiness as ServiceReadiness
from peerbridge_platform.grpc.readiness import keep_health_current, stop_watching
from peerbridge_platform.kafka import KafkaProbe
from peerbridge_platform.logging import get_logger

from ..adapters.database import database_ready

# The loop and its stop come from the platform; every service runs them alike.
__all__ = ["CHECK_TIMEOUT_S", "Readiness", "keep_health_current", "stop_watching"]

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
