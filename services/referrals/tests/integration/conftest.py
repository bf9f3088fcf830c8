"""A real referrals gRPC server on 127.0.0.1 over a fresh PostgreSQL database per test.

Calls carry real access tokens, signed with a test key whose public half the
server trusts (in production it fetches identity's keys): `service.stub`
calls as the coordinator of the synthetic program, `service.stub_as(token)`
as anyone else.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import asyncpg
import grpc
import pytest
from confluent_kafka import Consumer, Message

from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import (
    Principal,
    SigningKey,
    StaticJwksSource,
    TokenVerifier,
    issue_access_token,
)
from peerbridge_platform.grpc import GrpcServer, create_channel, start_server
from peerbridge_referrals.adapters.audit_trail import SERVICE
from peerbridge_referrals.adapters.outbox_writer import write_to_outbox
from peerbridge_referrals.adapters.postgres_unit_of_work import EventWriter
from peerbridge_referrals.adapters.reason_cipher import ReasonCipher
from peerbridge_referrals.adapters.schema import all_migrations, migrate
from peerbridge_referrals.bootstrap import bootstrap, postgres_denials, postgres_units_of_work
from peerbridge_referrals.config import ReferralsSettings
from peerbridge_referrals.entrypoints.app import ReferralsProcess
from peerbridge_referrals.entrypoints.grpc_server import referrals_registration
from peerbridge_referrals.entrypoints.interceptors import referrals_interceptors
from peerbridge_referrals.service_layer.pagination import PageLimits

from ..conftest import synthetic_principal

# Generous: only a failure ever waits this long.
CALL_TIMEOUT_S = 10.0
# The settings' defaults: what identity puts in the tokens it issues.
ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "peerbridge"
# Plays identity's signing key; the server trusts its public half only.
SIGNING_KEY = SigningKey.generate()


def token_for(
    principal: Principal,
    *,
    key: SigningKey = SIGNING_KEY,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    now: datetime | None = None,
) -> str:
    """A signed access token saying what `principal` says (as identity would issue it)."""
    return issue_access_token(
        key,
        issuer=issuer,
        audience=audience,
        subject=principal.subject,
        roles=principal.roles,
        scopes=sorted(principal.scopes),
        organization_id=principal.organization_id,
        client_id=principal.client_id,
        now=now,
    )


def trusted_keys() -> StaticJwksSource:
    return StaticJwksSource([SIGNING_KEY.verification_key()])


class _BearerToken(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds `authorization: Bearer <token>` to every call on the channel."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Awaitable[Any]], details: Any, request: Any
    ) -> Any:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add("authorization", f"Bearer {self._token}")
        return await continuation(details._replace(metadata=metadata), request)


@dataclass
class RunningService:
    stub: service_grpc.ReferralsServiceAsyncStub
    server: GrpcServer
    pool: asyncpg.Pool
    _channels: list[grpc.aio.Channel] = field(default_factory=list)

    async def count(self, table: str) -> int:
        count: int = await self.pool.fetchval(f"SELECT count(*) FROM {table}")
        return count

    async def count_events(self) -> int:
        """Outbox rows of referral events (the audit trail's are counted apart)."""
        count: int = await self.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE topic <> 'peerbridge.audit.v1'"
        )
        return count

    def stub_as(self, token: str | None) -> Any:
        """A stub whose calls carry `token` (None: no token at all)."""
        interceptors = [_BearerToken(token)] if token is not None else []
        channel = create_channel(
            self.server.address, default_timeout_s=CALL_TIMEOUT_S, interceptors=interceptors
        )
        self._channels.append(channel)
        return service_grpc.ReferralsServiceStub(channel)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


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
        postgres_denials(pool),
        page_limits=PageLimits(default_size=3, max_size=5),
    )
    verifier = TokenVerifier(ISSUER, AUDIENCE, trusted_keys())
    server = await start_server(
        "127.0.0.1:0",
        [referrals_registration(application)],
        interceptors=referrals_interceptors(verifier, Auditor(SERVICE, pool=pool)),
    )
    running = RunningService(cast("service_grpc.ReferralsServiceAsyncStub", None), server, pool)
    try:
        await server.set_serving()
        # With an aio channel the generated class builds the async stub.
        running.stub = running.stub_as(token_for(synthetic_principal()))
        yield running
    finally:
        await running.close()
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


def process_settings(
    database_url: str, kafka_bootstrap: str, encryption_keys: str, grace_s: float = 2.0
) -> ReferralsSettings:
    return ReferralsSettings(
        database_url=database_url,  # type: ignore[arg-type]
        encryption_keys=encryption_keys,  # type: ignore[arg-type]
        kafka_bootstrap=kafka_bootstrap,
        grpc_listen="127.0.0.1:0",
        grpc_grace_s=grace_s,
    )


@pytest.fixture
async def running(
    database_url: str, kafka_bootstrap: str, encryption_keys: str
) -> AsyncIterator[ReferralsProcess]:
    """The whole process (PostgreSQL, Kafka, outbox relay, gRPC) on a port of its own."""
    settings = process_settings(database_url, kafka_bootstrap, encryption_keys)
    process = ReferralsProcess(settings, jwks_source=trusted_keys())
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


def read_topic(
    bootstrap: str,
    topic: str,
    key: str,
    done: Callable[[list[Message]], bool],
    patience_s: float = 60.0,
) -> list[Message]:
    """The records of `topic` keyed by `key`, from the start, until `done(records)` or the
    deadline (blocking: call it in a thread)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test.referrals.{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    found: list[Message] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + patience_s
        while time.monotonic() < deadline and not done(found):
            message = consumer.poll(0.25)
            if message is None or message.error() is not None:
                continue
            if (message.key() or b"").decode() == key:
                found.append(message)
    finally:
        consumer.close()
    return found
