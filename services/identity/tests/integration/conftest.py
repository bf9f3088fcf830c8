"""A real identity gRPC server on 127.0.0.1 over a fresh PostgreSQL database per test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from peerbridge.identity.v1 import identity_service_pb2_grpc as service_grpc
from peerbridge_identity.adapters.schema import all_migrations, migrate
from peerbridge_identity.bootstrap import bootstrap, postgres_units_of_work
from peerbridge_identity.entrypoints.grpc_server import identity_registration
from peerbridge_identity.service_layer.application import IdentityApplication
from peerbridge_identity.service_layer.pagination import PageLimits
from peerbridge_platform.grpc import GrpcServer, create_channel, start_server

# Generous: only a failure ever waits this long.
CALL_TIMEOUT_S = 10.0
TABLES = (
    "organizations",
    "program_training_requirements",
    "persons",
    "clients",
    "training_records",
    "certifications",
    "supervision",
    "supporter_eligibility",
    "request_log",
    "outbox",
)


@dataclass
class RunningService:
    stub: Any  # IdentityServiceAsyncStub; calls are typed per method
    server: GrpcServer
    pool: asyncpg.Pool
    application: IdentityApplication
    clock: Any

    async def counts(self) -> dict[str, int]:
        """Rows per table, the outbox included: what a refused call must leave as it was."""
        return {
            table: await self.pool.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES
        }

    async def outbox_types(self) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT convert_from(header_values[array_position(header_names, 'ce_type')], "
            "'UTF8') AS type FROM outbox ORDER BY id"
        )
        return [row["type"] for row in rows]


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url, all_migrations())
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=12)
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def _serve(pool: asyncpg.Pool, clock: Any) -> AsyncIterator[RunningService]:
    application = bootstrap(
        postgres_units_of_work(pool),
        clock=clock,
        page_limits=PageLimits(default_size=2, max_size=3),
    )
    server = await start_server("127.0.0.1:0", [identity_registration(application)])
    channel = create_channel(server.address, default_timeout_s=CALL_TIMEOUT_S)
    try:
        await server.set_serving()
        stub = service_grpc.IdentityServiceStub(channel)
        yield RunningService(stub, server, pool, application, clock)
    finally:
        await channel.close()
        await server.stop(grace=1.0)


@pytest.fixture
async def service(pool: asyncpg.Pool, clock: Any) -> AsyncIterator[RunningService]:
    async with _serve(pool, clock) as running:
        yield running
