"""One contract for every idempotency store: the in-memory fake and PostgreSQL behave alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from peerbridge_gateway.idempotency import postgres_store
from peerbridge_gateway.idempotency.memory_store import InMemoryIdempotencyStore
from peerbridge_gateway.idempotency.postgres_store import PostgresIdempotencyStore
from peerbridge_gateway.idempotency.sealing import ResponseSealer
from peerbridge_gateway.idempotency.store import IdempotencyStore, KeyScope, StoredResponse
from peerbridge_platform.crypto import Keyring
from peerbridge_platform.migrations import apply_migrations

SCOPE = KeyScope("partner:contract", "key-1")
RESPONSE = StoredResponse(
    201, (("content-type", "application/json"), ("location", "/v1/referrals/r1")), b'{"a":1}'
)
LONG = {"lease_s": 3600.0, "retention_s": 3600.0}


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[IdempotencyStore]:
    if request.param == "memory":
        yield InMemoryIdempotencyStore()
        return
    database_url: str = request.getfixturevalue("database_url")
    connection = await asyncpg.connect(database_url)
    try:
        await apply_migrations(connection, postgres_store.migrations())
    finally:
        await connection.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=30)
    try:
        keyring = Keyring.from_setting(request.getfixturevalue("encryption_keys"))
        yield PostgresIdempotencyStore(pool, ResponseSealer(keyring))
    finally:
        await pool.close()


async def test_a_new_key_is_claimed_once(store: IdempotencyStore) -> None:
    assert await store.claim(SCOPE, "fp", uuid.uuid4(), **LONG)
    assert not await store.claim(SCOPE, "fp", uuid.uuid4(), **LONG)
    record = await store.find(SCOPE)
    assert record is not None
    assert (record.fingerprint, record.response) == ("fp", None)


async def test_a_completed_key_returns_its_response(store: IdempotencyStore) -> None:
    token = uuid.uuid4()
    await store.claim(SCOPE, "fp", token, **LONG)
    assert await store.complete(SCOPE, token, RESPONSE)
    record = await store.find(SCOPE)
    assert record is not None
    assert record.response == RESPONSE
    assert not await store.complete(SCOPE, token, RESPONSE)
    assert not await store.claim(SCOPE, "fp", uuid.uuid4(), **LONG)


async def test_only_the_owner_completes_or_releases(store: IdempotencyStore) -> None:
    token = uuid.uuid4()
    await store.claim(SCOPE, "fp", token, **LONG)
    assert not await store.complete(SCOPE, uuid.uuid4(), RESPONSE)
    await store.release(SCOPE, uuid.uuid4())
    assert await store.find(SCOPE) is not None
    await store.release(SCOPE, token)
    assert await store.find(SCOPE) is None
    assert await store.claim(SCOPE, "fp", uuid.uuid4(), **LONG)


async def test_a_completed_key_is_never_released(store: IdempotencyStore) -> None:
    token = uuid.uuid4()
    await store.claim(SCOPE, "fp", token, **LONG)
    await store.complete(SCOPE, token, RESPONSE)
    await store.release(SCOPE, token)
    record = await store.find(SCOPE)
    assert record is not None
    assert record.response == RESPONSE


async def test_callers_have_separate_keys(store: IdempotencyStore) -> None:
    assert await store.claim(KeyScope("partner:a", "k"), "fp", uuid.uuid4(), **LONG)
    assert await store.claim(KeyScope("partner:b", "k"), "fp", uuid.uuid4(), **LONG)


async def test_an_abandoned_claim_is_taken_over_only_for_the_same_request(
    store: IdempotencyStore,
) -> None:
    first = uuid.uuid4()
    await store.claim(SCOPE, "fp", first, lease_s=0.0, retention_s=3600.0)
    assert not await store.claim(SCOPE, "other-fp", uuid.uuid4(), lease_s=0.0, retention_s=3600)
    taker = uuid.uuid4()
    assert await store.claim(SCOPE, "fp", taker, lease_s=0.0, retention_s=3600.0)
    assert not await store.complete(SCOPE, first, RESPONSE)
    assert await store.complete(SCOPE, taker, RESPONSE)


async def test_expired_keys_are_gone_claimable_and_purged(store: IdempotencyStore) -> None:
    for number in range(3):
        scope = KeyScope("partner:contract", f"old-{number}")
        token = uuid.uuid4()
        await store.claim(scope, "fp", token, lease_s=3600.0, retention_s=0.0)
        await store.complete(scope, token, RESPONSE)
    await store.claim(SCOPE, "fp", uuid.uuid4(), **LONG)
    old = KeyScope("partner:contract", "old-0")
    assert await store.find(old) is None
    assert await store.claim(old, "another-fp", uuid.uuid4(), **LONG)
    assert await store.purge_expired(batch=1) == 1
    assert await store.purge_expired(batch=10) == 1
    assert await store.purge_expired(batch=10) == 0
    assert await store.find(SCOPE) is not None


async def test_concurrent_claims_have_one_winner(store: IdempotencyStore) -> None:
    results = await asyncio.gather(
        *(store.claim(SCOPE, "fp", uuid.uuid4(), **LONG) for _ in range(20))
    )
    assert sorted(results) == [False] * 19 + [True]


async def test_the_store_answers_a_ping(store: IdempotencyStore) -> None:
    await store.ping()
