"""A real identity gRPC server on 127.0.0.1 over a fresh PostgreSQL database per test.

Calls carry an administrator's access token unless they name another one
(`service.tokens`) or go through `service.bare_stub` (no token at all); the
server verifies them against a key made for the test session.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import pytest

from peerbridge.identity.v1 import identity_service_pb2_grpc as service_grpc
from peerbridge_identity.adapters.audit_trail import SERVICE
from peerbridge_identity.adapters.schema import all_migrations, migrate
from peerbridge_identity.bootstrap import bootstrap, postgres_units_of_work
from peerbridge_identity.entrypoints.grpc_server import (
    identity_interceptors,
    identity_registration,
)
from peerbridge_identity.service_layer.application import IdentityApplication
from peerbridge_identity.service_layer.pagination import PageLimits
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import (
    KeySet,
    Role,
    SigningKey,
    StaticJwksSource,
    TokenVerifier,
    issue_access_token,
)
from peerbridge_platform.auth.scopes import ROLE_SCOPES
from peerbridge_platform.grpc import GrpcServer, create_channel, start_server
from peerbridge_platform.kafka.topics import AUDIT_TOPIC

# Generous: only a failure ever waits this long.
CALL_TIMEOUT_S = 10.0
ISSUER = "https://identity.peerbridge.test"
AUDIENCE = "peerbridge"
KEY = SigningKey.generate()
AUTHORIZATION = "authorization"
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


def test_verifier() -> TokenVerifier:
    """Verifies the tokens `Tokens` mints, as the service verifies its own."""
    return TokenVerifier(ISSUER, AUDIENCE, StaticJwksSource.from_key_set(KeySet(KEY)))


class Tokens:
    """Access tokens signed with the test key; `admin` is what calls carry by default."""

    def __init__(self, key: SigningKey = KEY) -> None:
        self.key = key
        self.admin_subject = str(uuid.uuid4())
        self.admin = self.mint(self.admin_subject, [Role.ADMIN])

    def mint(
        self,
        subject: str,
        roles: list[Role],
        *,
        scopes: frozenset[str] | list[str] | None = None,
        organization_id: str | None = None,
        **overrides: Any,
    ) -> str:
        """A token for `subject`; by default with every scope its roles allow."""
        granted = scopes if scopes is not None else frozenset().union(*map(ROLE_SCOPES.get, roles))
        arguments: dict[str, Any] = {
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "subject": subject,
            "roles": roles,
            "scopes": sorted(granted),
            "organization_id": organization_id,
        }
        return issue_access_token(self.key, **(arguments | overrides))

    @staticmethod
    def bearer(token: str) -> tuple[tuple[str, str]]:
        """Call metadata presenting `token`."""
        return ((AUTHORIZATION, f"Bearer {token}"),)


class DefaultBearer(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds a bearer token to every call that does not carry one already."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        if AUTHORIZATION not in metadata:
            metadata.add(AUTHORIZATION, f"Bearer {self._token}")
        return await continuation(
            grpc.aio.ClientCallDetails(
                method=details.method,
                timeout=details.timeout,
                metadata=metadata,
                credentials=details.credentials,
                wait_for_ready=details.wait_for_ready,
            ),
            request,
        )


@dataclass
class RunningService:
    stub: Any  # IdentityServiceAsyncStub; calls are typed per method
    server: GrpcServer
    pool: asyncpg.Pool
    application: IdentityApplication
    clock: Any
    tokens: Tokens
    bare_stub: Any  # the same service, called without any token

    async def audit_rows(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM audit_log ORDER BY id")

    async def counts(self) -> dict[str, int]:
        """Rows per table, the outbox's events included: what a refused call must leave as
        it was (its own audit record, and that record's outbox row, aside)."""
        counts = {
            table: await self.pool.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES
        }
        counts["outbox"] = await self.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE topic <> $1", AUDIT_TOPIC
        )
        return counts

    async def outbox_types(self) -> list[str]:
        """The event types in the outbox, oldest first; audit records left out."""
        rows = await self.pool.fetch(
            "SELECT convert_from(header_values[array_position(header_names, 'ce_type')], "
            "'UTF8') AS type FROM outbox WHERE topic <> $1 ORDER BY id",
            AUDIT_TOPIC,
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
    server = await start_server(
        "127.0.0.1:0",
        [identity_registration(application)],
        interceptors=identity_interceptors(test_verifier(), Auditor(SERVICE, pool=pool)),
    )
    tokens = Tokens()
    channel = create_channel(
        server.address,
        default_timeout_s=CALL_TIMEOUT_S,
        interceptors=[DefaultBearer(tokens.admin)],
    )
    bare = create_channel(server.address, default_timeout_s=CALL_TIMEOUT_S)
    try:
        await server.set_serving()
        stub = service_grpc.IdentityServiceStub(channel)
        bare_stub = service_grpc.IdentityServiceStub(bare)
        yield RunningService(stub, server, pool, application, clock, tokens, bare_stub)
    finally:
        await bare.close()
        await channel.close()
        await server.stop(grace=1.0)


@pytest.fixture
async def service(pool: asyncpg.Pool, clock: Any) -> AsyncIterator[RunningService]:
    async with _serve(pool, clock) as running:
        yield running


@pytest.fixture
def verifier() -> TokenVerifier:
    return test_verifier()


@pytest.fixture
def admin_interceptors() -> list[Any]:
    """Client interceptors that make calls carry an administrator's token."""
    return [DefaultBearer(Tokens().admin)]
