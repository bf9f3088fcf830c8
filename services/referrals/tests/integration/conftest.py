"""A real referrals gRPC server on 127.0.0.1 over a fresh PostgreSQL database per test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import cast

import asyncpg
import pytest

from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.grpc import GrpcServer, create_channel, start_server
from peerbridge_referrals.adapters.outbox_writer import write_to_outbox
from peerbridge_referrals.adapters.postgres_unit_of_work import EventWriter
from peerbridge_referrals.adapters.reason_cipher import ReasonCipher
from peerbridge_referrals.adapters.schema import all_migrations, migrate
from peerbridge_referrals.bootstrap import bootstrap, postgres_units_of_work
from peerbridge_referrals.entrypoints.grpc_server import referrals_registration
from peerbridge_referrals.service_layer.pagination import PageLimits

# Generous: only a failure ever waits this long.
CALL_TIMEOUT_S = 10.0


@dataclass
class RunningService:
    stub: service_grpc.ReferralsServiceAsyncStub
    server: GrpcServer
    pool: asyncpg.Pool

    async def count(self, table: str) -> int:
        count: int = await self.pool.fetchval(f"SELECT count(*) FROM {table}")
        return count


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url, all_migrations())
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=12)
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def _serve(
    pool: asyncpg.Pool, cipher: ReasonCipher, write_events: EventWriter
) -> AsyncIterator[RunningService]:
    application = bootstrap(
        postgres_units_of_work(pool, cipher, write_events),
        page_limits=PageLimits(default_size=3, max_size=5),
    )
    server = await start_server("127.0.0.1:0", [referrals_registration(application)])
    channel = create_channel(server.address, default_timeout_s=CALL_TIMEOUT_S)
    try:
        await server.set_serving()
        # With an aio channel the generated class builds the async stub.
        stub = cast(
            "service_grpc.ReferralsServiceAsyncStub", service_grpc.ReferralsServiceStub(channel)
        )
        yield RunningService(stub, server, pool)
    finally:
        await channel.close()
        await server.stop(grace=1.0)


@pytest.fixture
async def service(pool: asyncpg.Pool, cipher: ReasonCipher) -> AsyncIterator[RunningService]:
    async with _serve(pool, cipher, write_to_outbox) as running:
        yield running


ServeWith = Callable[[EventWriter], contextlib.AbstractAsyncContextManager[RunningService]]


@pytest.fixture
def serve_with(pool: asyncpg.Pool, cipher: ReasonCipher) -> ServeWith:
    """Starts the service with another event writer (to make a transaction fail late)."""
    return lambda write_events: _serve(pool, cipher, write_events)
