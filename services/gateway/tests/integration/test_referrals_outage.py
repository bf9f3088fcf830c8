"""When the referrals service goes down the gateway says so (readiness, 503) and lets a
retry through once it is back: a failed attempt does not hold its Idempotency-Key."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

pytestmark = pytest.mark.integration

ReferralBody = Callable[..., dict[str, Any]]


async def until_status(http: httpx.AsyncClient, path: str, status: int) -> httpx.Response:
    async with asyncio.timeout(60):
        while (response := await http.get(path)).status_code != status:
            await asyncio.sleep(0.1)
    return response


async def test_an_outage_is_a_503_and_the_key_is_free_for_the_retry(
    http: httpx.AsyncClient,
    gateway: Any,
    referrals_service: Any,
    referral_body: ReferralBody,
) -> None:
    await until_status(http, "/readyz", 200)
    referrals_service.stop()

    not_ready = await until_status(http, "/readyz", 503)
    assert not_ready.headers["content-type"] == "application/problem+json"
    assert not_ready.json()["checks"]["referrals"] != "ok"
    assert not_ready.json()["checks"]["database"] == "ok"

    body, key = referral_body(), str(uuid.uuid4())
    failed = await http.post("/v1/referrals", json=body, headers={"Idempotency-Key": key})
    assert failed.status_code == 503, failed.text
    assert failed.headers["content-type"] == "application/problem+json"
    assert failed.headers["retry-after"] == "1"
    connection = await asyncpg.connect(gateway.database_url)
    try:
        held = await connection.fetchval(
            "SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1", key
        )
    finally:
        await connection.close()
    assert held == 0

    referrals_service.start()
    await referrals_service.wait_until_serving()
    await until_status(http, "/readyz", 200)
    retried = await http.post("/v1/referrals", json=body, headers={"Idempotency-Key": key})
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    listed = await http.get(
        "/v1/referrals", params={"subject_member_id": body["subject_member_id"]}
    )
    assert [r["referral_id"] for r in listed.json()["items"]] == [retried.json()["referral_id"]]
