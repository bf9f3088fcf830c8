"""The referrals process: start everything in order, serve, and stop in reverse order.

Start: PostgreSQL pool → migrations (outbox, audit log, then ours; plain-text
reasons are sealed before their column goes, and reasons under a retired key
are resealed) → Kafka ready and topics present → outbox relay → gRPC server
(NOT_SERVING), every call but health and reflection needing a verified access
token → SERVING once PostgreSQL and Kafka both answer, re-checked for as long
as it runs. Identity, whose keys verify tokens, is watched and logged but does
not decide readiness: while it is down, calls are refused as UNAUTHENTICATED
and everything else keeps working.
Stop: NOT_SERVING, in-flight calls drain for the grace period, the relay
finishes its batch, the pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from peerbridge_platform import tracing
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import JwksSource, identity_jwks_source
from peerbridge_platform.grpc import GrpcServer, create_channel, start_server
from peerbridge_platform.kafka import ensure_topics, wait_for_kafka
from peerbridge_platform.logging import get_logger
from peerbridge_platform.metrics import MetricsServer, serve_metrics
from peerbridge_platform.outbox import OutboxRelay

from ..adapters.audit_trail import SERVICE
from ..adapters.consent_guard import ConsentGuard
from ..adapters.database import open_pool
from ..adapters.kafka_topics import topic_specs
from ..adapters.postgres_notes import reseal_notes_at_start
from ..adapters.reason_cipher import ReasonCipher
from ..adapters.reason_sealing import upgrade_database
from ..bootstrap import bootstrap, postgres_denials, postgres_units_of_work, token_verifier
from ..config import ReferralsSettings
from ..service_layer.pagination import PageLimits
from .crisis_grpc import crisis_registration
from .emergency_grpc import emergency_registration
from .grpc_server import referrals_registration
from .interceptors import referrals_interceptors
from .notes_grpc import notes_registration
from .overdue_sweeper import worklist_parts
from .readiness import Readiness, keep_health_current, stop_watching, watch_identity
from .worklist_grpc import worklist_registration

log = get_logger(__name__)

RELAY_NAME = "referrals"
# How often health is re-checked against PostgreSQL and Kafka (and identity is looked at).
READINESS_INTERVAL_S = 5.0
# Each call to identity (for its keys, or its health) gets this long.
IDENTITY_TIMEOUT_S = 5.0


class ReferralsProcess:
    """Owns what the process started; `stop()` undoes whatever `start()` got through.

    `jwks_source` replaces identity's keys (tests sign tokens with a key set of their own).
    """

    def __init__(
        self, settings: ReferralsSettings, *, jwks_source: JwksSource | None = None
    ) -> None:
        self._settings = settings
        self._jwks_source = jwks_source
        self._cleanup = contextlib.AsyncExitStack()
        self.server: GrpcServer | None = None
        self.metrics: MetricsServer | None = None

    async def start(self) -> None:
        settings = self._settings
        # Real span ids, so each event carries the trace of the call that caused it.
        tracing.install_tracer_provider()
        self.metrics = serve_metrics(settings.metrics_listen, self._cleanup)
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
        await reseal_notes_at_start(pool, cipher)

        await wait_for_kafka(settings.kafka_bootstrap, timeout_s=settings.startup_timeout_s)
        await ensure_topics(settings.kafka_bootstrap, topic_specs(settings))
        relay = OutboxRelay(
            database_url,
            settings.kafka_bootstrap,
            name=RELAY_NAME,
            guard=ConsentGuard(Auditor(SERVICE, pool=pool)),
        )
        await relay.start()
        self._cleanup.push_async_callback(_stop_relay, relay)

        jwks_source = self._jwks_source or self._identity_keys()
        application = bootstrap(
            postgres_units_of_work(pool, cipher),
            postgres_denials(pool),
            page_limits=PageLimits(settings.page_size_default, settings.page_size_max),
        )
        worklist, sweeper = worklist_parts(
            settings, application.uow_factory, application.denials, application.page_limits
        )
        server = await start_server(
            settings.grpc_listen,
            [
                referrals_registration(application),
                crisis_registration(application),
                emergency_registration(application),
                notes_registration(application),
                worklist_registration(worklist),
            ],
            interceptors=referrals_interceptors(
                token_verifier(settings, jwks_source), Auditor(SERVICE, pool=pool)
            ),
        )
        self.server = server
        self._cleanup.push_async_callback(server.stop, settings.grpc_grace_s)
        if sweeper is not None:
            sweeper.start()
            self._cleanup.push_async_callback(sweeper.stop)

        watcher = asyncio.create_task(
            keep_health_current(
                Readiness(pool, settings.kafka_bootstrap), server, READINESS_INTERVAL_S
            ),
            name="referrals-readiness",
        )
        self._cleanup.push_async_callback(stop_watching, watcher)

    def _identity_keys(self) -> JwksSource:
        """Identity's JWKS over gRPC, fetched on first use; its reachability is logged."""
        channel = create_channel(
            self._settings.identity_target, default_timeout_s=IDENTITY_TIMEOUT_S
        )
        self._cleanup.push_async_callback(channel.close)
        watcher = asyncio.create_task(
            watch_identity(channel, self._settings.identity_target, READINESS_INTERVAL_S),
            name="referrals-identity-watch",
        )
        self._cleanup.push_async_callback(stop_watching, watcher)
        return identity_jwks_source(
            channel,
            timeout_s=IDENTITY_TIMEOUT_S,
            min_refresh_interval_s=self._settings.jwks_min_refresh_interval_s,
        )

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
