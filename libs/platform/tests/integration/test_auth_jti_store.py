"""The jti store contract, run against the in-memory store and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from peerbridge_platform.auth import (
    AUTH_MIGRATIONS,
    ClientAssertionVerifier,
    JtiStore,
    MemoryJtiStore,
    PostgresJtiStore,
    SigningKey,
    StaticClientKeys,
)
from peerbridge_platform.errors import Unauthenticated
from peerbridge_platform.migrations import apply_migrations

pytestmark = pytest.mark.integration

SOON = datetime.now(UTC) + timedelta(minutes=5)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    connection = await asyncpg.connect(database_url)
    try:
        await apply_migrations(connection, AUTH_MIGRATIONS)
    finally:
        await connection.close()
    async with asyncpg.create_pool(database_url, min_size=1, max_size=8) as pool:
        yield pool


@pytest.fixture(params=["memory", "postgres"])
def store(request: pytest.FixtureRequest, pool: asyncpg.Pool) -> JtiStore:
    return MemoryJtiStore() if request.param == "memory" else PostgresJtiStore(pool)


async def test_an_id_is_accepted_once_per_client(store: JtiStore) -> None:
    jti = str(uuid.uuid4())
    assert await store.remember("client-a", jti, SOON)
    assert not await store.remember("client-a", jti, SOON)
    assert await store.remember("client-b", jti, SOON)


async def test_concurrent_replays_let_exactly_one_through(store: JtiStore) -> None:
    jti = str(uuid.uuid4())
    results = await asyncio.gather(*(store.remember("client-a", jti, SOON) for _ in range(20)))
    assert results.count(True) == 1


async def test_expired_rows_are_purged(pool: asyncpg.Pool) -> None:
    store = PostgresJtiStore(pool)
    now = datetime.now(UTC)
    await store.remember("client-a", "old", now - timedelta(minutes=1))
    await store.remember("client-a", "live", now + timedelta(minutes=4))
    assert await store.purge_expired(now) == 1
    assert await pool.fetchval("SELECT array_agg(jti) FROM client_assertion_jti") == ["live"]
    assert not await store.remember("client-a", "live", now + timedelta(minutes=4))


async def test_oversized_ids_are_refused_by_the_table(pool: asyncpg.Pool) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await PostgresJtiStore(pool).remember("client-a", "j" * 300, SOON)


async def test_replay_across_two_verifier_instances_is_refused(pool: asyncpg.Pool) -> None:
    """Two token endpoint instances, one database: the second sees the first's jti."""
    endpoint = "https://gateway.peerbridge.test/v1/auth/token"
    key = SigningKey.generate("ES384")
    keys = StaticClientKeys({"ehr-1": [key.verification_key()]})
    verifiers = [
        ClientAssertionVerifier(
            token_endpoint=endpoint, client_keys=keys, jti_store=PostgresJtiStore(pool)
        )
        for _ in range(2)
    ]
    assertion = key.sign(
        {
            "iss": "ehr-1",
            "sub": "ehr-1",
            "aud": endpoint,
            "exp": int(datetime.now(UTC).timestamp()) + 120,
            "jti": str(uuid.uuid4()),
        },
        typ="JWT",
    )
    assert (await verifiers[0].verify(assertion)).client_id == "ehr-1"
    with pytest.raises(Unauthenticated, match="already used"):
        await verifiers[1].verify(assertion)
