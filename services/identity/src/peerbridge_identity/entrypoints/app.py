"""The identity process: start everything in order, serve, and stop in reverse order.

Start: PostgreSQL pool → migrations (outbox, then ours) → Kafka ready and
topics present → outbox relay → gRPC server (NOT_SERVING) → SERVING once
PostgreSQL and Kafka both answer, re-checked for as long as it runs → the
scheduled eligibility review.
Stop: the review stops, NOT_SERVING, in-flight calls drain for the grace
period, the relay finishes its batch, the pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg

from peerbridge_platform import tracing
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import BearerVerifier, TokenVerifier
from peerbridge_platform.grpc import GrpcServer, start_server
from peerbridge_platform.kafka import ensure_topics, wait_for_kafka
from peerbridge_platform.logging import get_logger
from peerbridge_platform.metrics import MetricsServer, serve_metrics
from peerbridge_platform.outbox import OutboxRelay

from ..adapters.audit_trail import SERVICE
from ..adapters.database import open_pool
from ..adapters.kafka_topics import topic_specs
from ..adapters.postgres_signing_keys import PostgresSigningKeys
from ..adapters.schema import all_migrations, migrate
from ..bootstrap import bootstrap, postgres_units_of_work, token_issuer, utc_now
from ..config import IdentitySettings
from ..service_layer.application import IdentityApplication
from ..service_layer.context import Clock
from ..service_layer.pagination import PageLimits
from ..service_layer.signing_keys import SigningKeys
from .credential_housekeeping import purge_periodically
from .eligibility_schedule import review_periodically
from .grpc_patients import patients_registration
from .grpc_server import identity_interceptors, identity_registration
from .grpc_tokens import token_registration
from .readiness import Readiness, keep_health_current, stop_watching

log = get_logger(__name__)

RELAY_NAME = "identity"
# How often health is re-checked against PostgreSQL and Kafka.
READINESS_INTERVAL_S = 5.0
# The leeway every verifier allows on `exp` (TokenVerifier's default).
VERIFIER_LEEWAY_S = 30
# How often spent assertion ids and old throttle windows are deleted.
HOUSEKEEPING_INTERVAL_S = 600.0


class IdentityProcess:
    """Owns what the process started; `stop()` undoes whatever `start()` got through.

    `clock` is the service's notion of now; tests pass one they can move.
    `verifier` checks the access token of every IdentityService call; without
    one no call carries a principal, so every one of them is refused.
    """

    def __init__(
        self,
        settings: IdentitySettings,
        *,
        clock: Clock = utc_now,
        verifier: BearerVerifier | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._verifier = verifier
        self._cleanup = contextlib.AsyncExitStack()
        self.server: GrpcServer | None = None
        self.application: IdentityApplication | None = None
        self.metrics: MetricsServer | None = None

    async def start(self) -> None:
        settings = self._settings
        # Real span ids, so each event carries the trace of the call that caused it.
        tracing.install_tracer_provider()
        self.metrics = serve_metrics(settings.metrics_listen, self._cleanup)
        database_url = settings.database_url.get_secret_value()
        pool = await open_pool(
            database_url,
            min_size=settings.database_pool_min,
            max_size=settings.database_pool_max,
            timeout_s=settings.startup_timeout_s,
        )
        self._cleanup.push_async_callback(_close_pool, pool)
        await migrate(database_url, all_migrations())

        await wait_for_kafka(settings.kafka_bootstrap, timeout_s=settings.startup_timeout_s)
        await ensure_topics(settings.kafka_bootstrap, topic_specs(settings))
        relay = OutboxRelay(database_url, settings.kafka_bootstrap, name=RELAY_NAME)
        await relay.start()
        self._cleanup.push_async_callback(_stop_relay, relay)

        signing_keys = await self._signing_keys(pool)
        application = bootstrap(
            postgres_units_of_work(pool),
            clock=self._clock,
            warning_days=settings.eligibility_warning_days,
            page_limits=PageLimits(settings.page_size_default, settings.page_size_max),
            signing_keys=signing_keys,
        )
        self.application = application
        issuer = token_issuer(pool, signing_keys, settings, self._clock, application.hasher)
        # Our own tokens are verified with our own keys, straight from storage.
        verifier = self._verifier or TokenVerifier(
            settings.token_issuer, settings.token_audience, signing_keys
        )
        server = await start_server(
            settings.grpc_listen,
            [
                identity_registration(application),
                token_registration(issuer),
                patients_registration(application),
            ],
            interceptors=identity_interceptors(verifier, Auditor(SERVICE, pool=pool)),
        )
        self.server = server
        self._cleanup.push_async_callback(server.stop, settings.grpc_grace_s)

        watcher = asyncio.create_task(
            keep_health_current(
                Readiness(pool, settings.kafka_bootstrap), server, READINESS_INTERVAL_S
            ),
            name="identity-readiness",
        )
        self._cleanup.push_async_callback(stop_watching, watcher)

        reviewer = asyncio.create_task(
            review_periodically(
                application,
                interval_s=settings.eligibility_check_interval_s,
                batch_size=settings.eligibility_check_batch_size,
            ),
            name="identity-eligibility-review",
        )
        self._cleanup.push_async_callback(_stop_reviewer, reviewer)

    async def _signing_keys(self, pool: asyncpg.Pool) -> SigningKeys:
        """The keys that sign tokens, created on first start and reloaded periodically."""
        settings = self._settings
        publish_ahead = timedelta(seconds=settings.signing_key_publish_ahead_s)
        signing_keys = SigningKeys(
            PostgresSigningKeys(pool, settings.keyring(), publish_ahead),
            clock=self._clock,
            # A retired key verifies until every token it signed has expired, including
            # those an instance signed before its next reload noticed the retirement.
            grace=timedelta(
                seconds=settings.access_token_lifetime_s
                + VERIFIER_LEEWAY_S
                + settings.signing_key_reload_interval_s
            ),
            publish_ahead=publish_ahead,
        )
        await signing_keys.start()
        self._cleanup.push_async_callback(signing_keys.stop)
        reloader = asyncio.create_task(
            signing_keys.reload_periodically(settings.signing_key_reload_interval_s),
            name="identity-signing-key-reload",
        )
        self._cleanup.push_async_callback(stop_watching, reloader)
        housekeeper = asyncio.create_task(
            purge_periodically(pool, self._clock, HOUSEKEEPING_INTERVAL_S),
            name="identity-credential-housekeeping",
        )
        self._cleanup.push_async_callback(stop_watching, housekeeper)
        return signing_keys

    async def stop(self) -> None:
        await self._cleanup.aclose()
        log.info("identity stopped")


async def _stop_reviewer(task: asyncio.Task[None]) -> None:
    await stop_watching(task)
    log.info("eligibility review stopped")


async def _stop_relay(relay: OutboxRelay) -> None:
    await relay.stop()
    log.info("outbox relay stopped", relay=RELAY_NAME)


async def _close_pool(pool: asyncpg.Pool) -> None:
    await pool.close()
    log.info("database pool closed")


async def run_until(settings: IdentitySettings, stop: asyncio.Event) -> int:
    """Serve until `stop` is set; 0 after a clean stop, 1 when start-up failed."""
    process = IdentityProcess(settings)
    starting = asyncio.create_task(process.start(), name="identity-start")
    stopping = asyncio.create_task(stop.wait(), name="identity-stop-signal")
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
