"""The gateway as an ASGI app: `create_app` wires it; nothing here runs at import."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Generic, Never, TypeVar

import asyncpg
from fastapi import FastAPI

from peerbridge_platform.audit import AUDIT_MIGRATIONS, Auditor
from peerbridge_platform.auth import BearerVerifier, TokenVerifier, identity_jwks_source
from peerbridge_platform.grpc import create_channel
from peerbridge_platform.kafka import AUDIT_TOPIC, TopicSpec, ensure_topics, wait_for_kafka
from peerbridge_platform.logging import get_logger
from peerbridge_platform.metrics import serve_metrics
from peerbridge_platform.migrations import apply_migrations
from peerbridge_platform.outbox import OUTBOX_MIGRATIONS, OutboxRelay

from .authentication import Authenticator, RateLimitedLog
from .clients.consents import ConsentsClient
from .clients.consents_grpc import GrpcConsentsClient
from .clients.crisis import CrisisClient
from .clients.crisis_grpc import GrpcCrisisClient
from .clients.disclosures import DisclosuresClient
from .clients.disclosures_grpc import GrpcDisclosuresClient
from .clients.emergency import EmergencyClient
from .clients.emergency_grpc import GrpcEmergencyClient
from .clients.grpc_calls import CHANNEL_OPTIONS
from .clients.notes import NotesClient
from .clients.notes_grpc import GrpcNotesClient
from .clients.patients import PatientsClient
from .clients.patients_grpc import GrpcPatientsClient
from .clients.referrals import ReferralsClient
from .clients.referrals_grpc import GrpcReferralsClient
from .clients.tokens import TokenClient
from .clients.tokens_grpc import GrpcTokenClient, connect_identity
from .clients.worklist import WorklistClient
from .clients.worklist_grpc import GrpcWorklistClient
from .config import GatewaySettings
from .idempotency import postgres_store
from .idempotency.guard import GuardPolicy, IdempotencyGuard
from .idempotency.postgres_store import PostgresIdempotencyStore
from .idempotency.purge import purge_periodically
from .idempotency.sealing import ResponseSealer
from .idempotency.store import IdempotencyStore
from .jwks_document import CachedJwks
from .middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from .openapi import problems_as_problem_json
from .problems import ProblemRenderer, install_problem_handlers
from .refusal_audit import SERVICE as REFUSAL_SERVICE
from .refusal_audit import AuditorRefusalAudit, MemoryRefusalAudit, RefusalAudit
from .resources import GatewayResources, Probe
from .routes import auth, build_v1_router, health, jwks

log = get_logger(__name__)

# A probe slower than this counts as not ready (probes run at once; kubelet waits 2 s).
_MAX_PROBE_TIMEOUT_S = 1.5
RELAY_NAME = "gateway"

DESCRIPTION = """
The PeerBridge HTTP API for partner apps.

Every `/v1` route needs an access token (`Authorization: Bearer <token>`) from
`POST /v1/auth/token`, holding the scopes the route names. Errors are RFC 9457
problem details (`application/problem+json`), except the OAuth2 errors of the
`/v1/auth` endpoints (RFC 6749 §5.2). Every POST but `/v1/auth/*` honours an
optional `Idempotency-Key` header. Lists are paged with an opaque `cursor`:
pass the previous page's `next_cursor`, with the same filters.
"""


class GatewayApp(FastAPI):
    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            problems_as_problem_json(super().openapi())
        return super().openapi()


def create_app(
    settings: GatewaySettings,
    *,
    referrals: ReferralsClient | None = None,
    consents: ConsentsClient | None = None,
    disclosures: DisclosuresClient | None = None,
    worklist: WorklistClient | None = None,
    crisis: CrisisClient | None = None,
    emergency: EmergencyClient | None = None,
    idempotency_store: IdempotencyStore | None = None,
    tokens: TokenClient | None = None,
    token_verifier: BearerVerifier | None = None,
    refusal_audit: RefusalAudit | None = None,
    patients: PatientsClient | None = None,
    notes: NotesClient | None = None,
) -> FastAPI:
    """The gateway app. Its lifespan connects what is not given: the referrals service (its
    referral, consent and disclosure RPCs) and identity over gRPC (identity's JWKS verifies access
    tokens), and the gateway's database (applying its migrations)."""
    renderer = ProblemRenderer(settings.problem_type_base)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            serve_metrics(settings.metrics_listen, stack)
            if idempotency_store is not None:
                store: IdempotencyStore = idempotency_store
                audit: RefusalAudit = refusal_audit or MemoryRefusalAudit()
            else:
                database = await stack.enter_async_context(_postgres(settings))
                store = database.store
                audit = refusal_audit or AuditorRefusalAudit(
                    Auditor(REFUSAL_SERVICE, pool=database.pool),
                    settings.auth_failure_audit_per_minute,
                )
            service = await stack.enter_async_context(
                _referrals_service(
                    settings,
                    _ReferralsService(
                        referrals, consents, disclosures, notes, worklist, crisis, emergency
                    ),
                )
            )
            identity = await stack.enter_async_context(
                _identity(settings, tokens, token_verifier, patients)
            )
            purge = asyncio.create_task(
                purge_periodically(store, settings.idempotency_purge_interval_s)
            )
            stack.push_async_callback(_cancel, purge)
            app.state.resources = GatewayResources(
                referrals=service.referrals,
                consents=service.consents,
                disclosures=service.disclosures,
                worklist=service.worklist,
                crisis=service.crisis,
                emergency=service.emergency,
                notes=service.notes,
                tokens=identity.tokens,
                patients=identity.patients,
                authenticator=Authenticator(
                    identity.verifier, RateLimitedLog(settings.auth_failure_log_per_minute), audit
                ),
                jwks=CachedJwks(identity.tokens.get_jwks, ttl_s=settings.jwks_cache_s),
                jwks_cache_s=settings.jwks_cache_s,
                idempotency=IdempotencyGuard(
                    store,
                    GuardPolicy(
                        wait_s=settings.idempotency_wait_s,
                        lease_s=settings.idempotency_lease_s,
                        retention_s=settings.idempotency_retention_s,
                    ),
                ),
                renderer=renderer,
                probes=(
                    Probe("database", store.ping),
                    Probe("referrals", service.referrals.check_serving),
                    Probe("identity", identity.tokens.check_serving),
                ),
                probe_timeout_s=min(settings.grpc_timeout_s, _MAX_PROBE_TIMEOUT_S),
                refusals=audit,
            )
            log.info(
                "gateway started",
                referrals_target=settings.referrals_target,
                identity_target=settings.identity_target,
            )
            yield
            log.info("gateway stopping")

    app = GatewayApp(
        title="PeerBridge API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    install_problem_handlers(app, renderer)
    # Added last runs first: the request id exists before the size check answers.
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, renderer=renderer
    )
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.build_router())
    app.include_router(jwks.build_router())
    app.include_router(auth.build_router())
    app.include_router(build_v1_router())
    return app


@dataclass(frozen=True)
class _Database:
    store: IdempotencyStore
    pool: asyncpg.Pool


@contextlib.asynccontextmanager
async def _postgres(settings: GatewaySettings) -> AsyncIterator[_Database]:
    """The gateway's database: idempotency records, and the audit trail of its refusals
    with the outbox and relay that carry it to Kafka."""
    sealer = ResponseSealer(settings.keyring())
    url = settings.database_url.get_secret_value()
    connection = await asyncpg.connect(url, timeout=settings.database_timeout_s)
    try:
        await apply_migrations(
            connection, [*OUTBOX_MIGRATIONS, *AUDIT_MIGRATIONS, *postgres_store.migrations()]
        )
    finally:
        await connection.close()
    await wait_for_kafka(settings.kafka_bootstrap, timeout_s=settings.startup_timeout_s)
    await ensure_topics(settings.kafka_bootstrap, [TopicSpec.from_settings(AUDIT_TOPIC, settings)])
    pool = await asyncpg.create_pool(
        url,
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        command_timeout=settings.database_timeout_s,
    )
    relay = OutboxRelay(url, settings.kafka_bootstrap, name=RELAY_NAME)
    try:
        await relay.start()
        yield _Database(PostgresIdempotencyStore(pool, sealer), pool)
    finally:
        await relay.stop()
        await pool.close()


# None where a client may be missing (given by tests), Never once every one is there.
C = TypeVar("C")


@dataclass(frozen=True)
class _ReferralsService(Generic[C]):
    """The referrals service's clients; in tests some may be given (None: not given)."""

    referrals: ReferralsClient | C
    consents: ConsentsClient | C
    disclosures: DisclosuresClient | C
    notes: NotesClient | C
    worklist: WorklistClient | C
    crisis: CrisisClient | C
    emergency: EmergencyClient | C


@contextlib.asynccontextmanager
async def _referrals_service(
    settings: GatewaySettings, given: _ReferralsService[None]
) -> AsyncIterator[_ReferralsService[Never]]:
    """The referrals service's clients over one channel, each unless given."""
    timeout_s = settings.grpc_timeout_s
    channel = create_channel(
        settings.referrals_target, default_timeout_s=timeout_s, options=CHANNEL_OPTIONS
    )
    try:
        yield _ReferralsService(
            given.referrals or GrpcReferralsClient(channel, timeout_s=timeout_s),
            given.consents or GrpcConsentsClient(channel, timeout_s=timeout_s),
            given.disclosures or GrpcDisclosuresClient(channel, timeout_s=timeout_s),
            given.notes or GrpcNotesClient(channel, timeout_s=timeout_s),
            given.worklist or GrpcWorklistClient(channel, timeout_s=timeout_s),
            given.crisis or GrpcCrisisClient(channel, timeout_s=timeout_s),
            given.emergency or GrpcEmergencyClient(channel, timeout_s=timeout_s),
        )
    finally:
        # A channel no client uses never connects: closing it costs nothing.
        await channel.close()


@dataclass(frozen=True)
class _Identity:
    tokens: TokenClient
    verifier: BearerVerifier
    patients: PatientsClient


@contextlib.asynccontextmanager
async def _identity(
    settings: GatewaySettings,
    tokens: TokenClient | None,
    verifier: BearerVerifier | None,
    patients: PatientsClient | None,
) -> AsyncIterator[_Identity]:
    """Identity's TokenService, PatientLinkService and the access token verifier over one
    channel (unless given)."""
    if tokens is not None and verifier is not None and patients is not None:
        yield _Identity(tokens, verifier, patients)
        return
    channel = connect_identity(settings.identity_target, timeout_s=settings.grpc_timeout_s)
    try:
        yield _Identity(
            tokens or GrpcTokenClient(channel, timeout_s=settings.grpc_timeout_s),
            verifier
            or TokenVerifier(
                issuer=settings.token_issuer,
                audience=settings.token_audience,
                jwks_source=identity_jwks_source(
                    channel,
                    timeout_s=settings.grpc_timeout_s,
                    min_refresh_interval_s=settings.jwks_min_refresh_interval_s,
                ),
            ),
            patients or GrpcPatientsClient(channel, timeout_s=settings.grpc_timeout_s),
        )
    finally:
        await channel.close()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
