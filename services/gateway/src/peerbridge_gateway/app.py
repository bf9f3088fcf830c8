"""The gateway as an ASGI app: `create_app` wires it; nothing here runs at import."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from fastapi import FastAPI

from peerbridge_platform.logging import get_logger
from peerbridge_platform.migrations import apply_migrations

from .clients.referrals import ReferralsClient
from .clients.referrals_grpc import GrpcReferralsClient
from .config import GatewaySettings
from .idempotency import postgres_store
from .idempotency.guard import GuardPolicy, IdempotencyGuard
from .idempotency.postgres_store import PostgresIdempotencyStore
from .idempotency.purge import purge_periodically
from .idempotency.sealing import ResponseSealer
from .idempotency.store import IdempotencyStore
from .middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from .openapi import problems_as_problem_json
from .problems import ProblemRenderer, install_problem_handlers
from .resources import GatewayResources, Probe
from .routes import build_v1_router, health

log = get_logger(__name__)

# A probe slower than this counts as not ready (probes run at once; kubelet waits 2 s).
_MAX_PROBE_TIMEOUT_S = 1.5

DESCRIPTION = """
The PeerBridge HTTP API for partner apps.

Errors are RFC 9457 problem details (`application/problem+json`). Every POST
honours an optional `Idempotency-Key` header. Lists are paged with an opaque
`cursor`: pass the previous page's `next_cursor`, with the same filters.
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
    idempotency_store: IdempotencyStore | None = None,
) -> FastAPI:
    """The gateway app. Its lifespan connects what is not given: the referrals service over
    gRPC and the gateway's database (applying its migrations)."""
    renderer = ProblemRenderer(settings.problem_type_base)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            store = (
                idempotency_store
                if idempotency_store is not None
                else await stack.enter_async_context(_postgres(settings))
            )
            client = (
                referrals
                if referrals is not None
                else await stack.enter_async_context(_grpc_referrals(settings))
            )
            purge = asyncio.create_task(
                purge_periodically(store, settings.idempotency_purge_interval_s)
            )
            stack.push_async_callback(_cancel, purge)
            app.state.resources = GatewayResources(
                referrals=client,
                idempotency=IdempotencyGuard(
                    store,
                    GuardPolicy(
                        wait_s=settings.idempotency_wait_s,
                        lease_s=settings.idempotency_lease_s,
                        retention_s=settings.idempotency_retention_s,
                    ),
                ),
                renderer=renderer,
                probes=(Probe("database", store.ping), Probe("referrals", client.check_serving)),
                probe_timeout_s=min(settings.grpc_timeout_s, _MAX_PROBE_TIMEOUT_S),
            )
            log.info("gateway started", referrals_target=settings.referrals_target)
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
    app.include_router(build_v1_router())
    return app


@contextlib.asynccontextmanager
async def _postgres(settings: GatewaySettings) -> AsyncIterator[IdempotencyStore]:
    sealer = ResponseSealer(settings.keyring())
    url = settings.database_url.get_secret_value()
    connection = await asyncpg.connect(url, timeout=settings.database_timeout_s)
    try:
        await apply_migrations(connection, postgres_store.migrations())
    finally:
        await connection.close()
    pool = await asyncpg.create_pool(
        url,
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        command_timeout=settings.database_timeout_s,
    )
    try:
        yield PostgresIdempotencyStore(pool, sealer)
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def _grpc_referrals(settings: GatewaySettings) -> AsyncIterator[ReferralsClient]:
    client = GrpcReferralsClient.connect(
        settings.referrals_target, timeout_s=settings.grpc_timeout_s
    )
    try:
        yield client
    finally:
        await client.close()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
