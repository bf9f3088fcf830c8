"""The referrals process: start everything in order, serve, and stop in reverse order.

Start: PostgreSQL pool → migrations (outbox, then ours; plain-text reasons
are sealed before their column goes, and reasons under a retired key are
resealed) → Kafka ready and topics present → outbox relay → gRPC server
(NOT_SERVING) → SERVING once PostgreSQL and Kafka both answer, re-checked
for as long as it runs.
Stop: NOT_SERVING, in-flight calls drain for the grace period, the relay
finishes its batch, the pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from peerbridge_platform import tracing
from peerbridge_platform.grpc import GrpcServer, start_server
from peerbridge_platform.kafka import ensure_topics, wait_for_kafka
from peerbridge_platform.logging import get_logger
from peerbridge_platform.outbox import OutboxRelay

from ..adapters.database import open_pool
from ..adapters.kafka_topics import topic_specs
from ..adapters.reason_cipher import ReasonCipher
from ..adapters.reason_sealing import upgrade_database
from ..bootstrap import bootstrap, postgres_units_of_work
from ..config import ReferralsSettings
from ..service_layer.pagination import PageLimits
from .grpc_server import referrals_registration
from .readiness import Readiness, keep_health_current, stop_watching

log = get_logger(__name__)

RELAY_NAME = "referrals"
# How often health is re-checked against PostgreSQL and Kafka.
READINESS_INTERVAL_S = 5.0


class ReferralsProcess:
    """Owns what the process started; `stop()` undoes whatever `start()` got through."""

    def __init__(self, settings: ReferralsSettings) -> None:
        self._settings = settings
        self._cleanup = contextlib.AsyncExitStack()
        self.server: GrpcServer | None = None

    async def start(self) -> None:
        settings = self._settings
        # Real span ids, so each event carries the trace of the call that caused it.
        tracing.install_tracer_provider()
        cipher = ReasonCipher(settings.keyring())
        database_url = settings.database_url.get_secret_value()
        pool = await open_pool(
            database_url,
            min_size=settings.database_pool_min,
            max_size=settings.database_pool_max,
            timeout_s=settings.startup_timeout_s,
        )
        self._cleanup.push_async_callback(_close_pool, pool)
        await upgrade_database(database_url, pool, cipher)

        await wait_for_kafka(settings.kafka_bootstrap, timeout_s=settings.startup_timeout_s)
        await ensure_topics(settings.kafka_bootstrap, topic_specs(settings))
        relay = OutboxRelay(database_url, settings.kafka_bootstrap, name=RELAY_NAME)
        await relay.start()
        self._cleanup.push_async_callback(_stop_relay, relay)

        application = bootstrap(
            postgres_units_of_work(pool, cipher),
            page_limits=PageLimits(settings.page_size_default, settings.page_size_max),
        )
        server = await start_server(settings.grpc_listen, [referrals_registration(application)])
        self.server = server
        self._cleanup.push_async_callback(server.stop, settings.grpc_grace_s)

        watcher = asyncio.create_task(
            keep_health_current(
                Readiness(pool, settings.kafka_bootstrap), server, READINESS_INTERVAL_S
            ),
            name="referrals-readiness",
        )
        self._cleanup.push_async_callback(stop_watching, watcher)

    async def stop(self) -> None:
        await self._cleanup.aclose()
        log.info("referrals stopped")


async def _stop_relay(relay: OutboxRelay) -> None:
    await relay.stop()
    log.info("outbox relay stopped", relay=RELAY_NAME)


async def _close_pool(pool: asyncpg.Pool) -> None:
    await pool.close()
    log.info("database pool closed")


async def run_until(settings: ReferralsSettings, stop: asyncio.Event) -> int:
    """Serve until `stop` is set; 0 after a clean stop, 1 when start-up failed."""
    process = ReferralsProcess(settings)
    starting = asyncio.create_task(process.start(), name="referrals-start")
    stopping = asyncio.create_task(stop.wait(), name="referrals-stop-signal")
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            log.info("stop requested during start-up")
            await stop_watching(starting)
            return 0
        if (error := starting.exception()) is not None:
            log.error("start-up failed", error=str(error), error_type=type(error).__name__)
            return 1
        await stopping
        log.info("stopping")
        return 0
    finally:
        stopping.cancel()
        await process.stop()
