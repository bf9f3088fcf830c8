"""Recorded responses are sealed at rest: the table holds no reason, replays still work, and
so do replays across a key rotation. Real PostgreSQL, referrals service and HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from peerbridge_devstack.ports import free_port
from peerbridge_gateway.idempotency import postgres_store
from peerbridge_gateway.idempotency.postgres_store import PostgresIdempotencyStore
from peerbridge_gateway.idempotency.sealing import ResponseSealer
from peerbridge_gateway.idempotency.store import KeyScope, StoredResponse
from peerbridge_platform.crypto import DecryptionFailed, Keyring, new_key_entry
from peerbridge_platform.migrations import apply_migrations

from .conftest import (
    ReferralsService,
    RunningGateway,
    TokenIssuer,
    gateway_settings,
    serve_gateway,
)

pytestmark = pytest.mark.integration

ReferralBody = Callable[..., dict[str, Any]]
FreshDatabase = Callable[[], AbstractAsyncContextManager[str]]
REASON = "Synthetic member asks for a sealed-at-rest check (test)."


async def stored_row(database_url: str, key: str) -> asyncpg.Record:
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT k::text AS whole_row, response_headers_sealed, response_body_sealed "
            "FROM idempotency_keys k WHERE idempotency_key = $1",
            key,
        )
    finally:
        await connection.close()
    assert row is not None
    return row


async def test_the_stored_response_is_not_plain_text_and_replays(
    gateway: RunningGateway, http: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    key = str(uuid.uuid4())
    body = referral_body(reason=REASON)
    first = await http.post("/v1/referrals", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text

    row = await stored_row(gateway.database_url, key)
    referral_id = first.json()["referral_id"]
    for plain in (REASON, referral_id, body["subject_member_id"], "Harbour Peer Recovery"):
        assert plain not in row["whole_row"]
        assert plain.encode() not in bytes(row["response_body_sealed"])
        assert plain.encode() not in bytes(row["response_headers_sealed"])

    again = await http.post("/v1/referrals", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.json() == first.json()
    assert again.json()["reason"] == REASON


async def test_replays_survive_a_key_rotation(
    referrals_service: ReferralsService,
    token_issuer: TokenIssuer,
    new_database: FreshDatabase,
    referral_body: ReferralBody,
) -> None:
    old_key, new_key = new_key_entry("old"), new_key_entry("new")
    body, headers = referral_body(reason=REASON), {"Idempotency-Key": str(uuid.uuid4())}
    async with new_database() as database_url:
        settings = gateway_settings(database_url, old_key, referrals_service, token_issuer)
        bearer = token_issuer.bearer()
        async with (
            serve_gateway(settings) as url,
            httpx.AsyncClient(base_url=url, headers=bearer) as http,
        ):
            first = await http.post("/v1/referrals", json=body, headers=headers)
            assert first.status_code == 201, first.text

        rotated = settings.model_copy(
            update={"encryption_keys": SecretStr(f"{new_key},{old_key}"), "http_port": free_port()}
        )
        async with (
            serve_gateway(rotated) as url,
            httpx.AsyncClient(base_url=url, headers=bearer) as http,
        ):
            again = await http.post("/v1/referrals", json=body, headers=headers)
            fresh_key = str(uuid.uuid4())
            fresh = await http.post(
                "/v1/referrals", json=referral_body(), headers={"Idempotency-Key": fresh_key}
            )

        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert fresh.status_code == 201, fresh.text
        new_prefix = rotated.keyring().active_prefix
        assert bytes(
            (await stored_row(database_url, fresh_key))["response_body_sealed"]
        ).startswith(new_prefix)


@pytest.fixture
async def store_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    connection = await asyncpg.connect(database_url)
    try:
        await apply_migrations(connection, postgres_store.migrations())
    finally:
        await connection.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


async def test_a_sealed_response_copied_to_another_key_does_not_open(
    store_pool: asyncpg.Pool, encryption_keys: str
) -> None:
    store = PostgresIdempotencyStore(
        store_pool, ResponseSealer(Keyring.from_setting(encryption_keys))
    )
    mine, theirs = KeyScope("partner:a", "key-a"), KeyScope("partner:b", "key-b")
    for scope, body in ((mine, b'{"reason":"mine"}'), (theirs, b'{"reason":"theirs"}')):
        token = uuid.uuid4()
        assert await store.claim(scope, "fp", token, lease_s=60, retention_s=60)
        assert await store.complete(scope, token, StoredResponse(201, (), body))

    await store_pool.execute(
        "UPDATE idempotency_keys SET response_body_sealed = "
        "(SELECT response_body_sealed FROM idempotency_keys WHERE caller = 'partner:a') "
        "WHERE caller = 'partner:b'"
    )

    record = await store.find(mine)
    assert record is not None
    assert record.response is not None
    assert record.response.body == b'{"reason":"mine"}'
    with pytest.raises(DecryptionFailed):
        await store.find(theirs)
