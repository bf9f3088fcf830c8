"""The gateway app over in-memory fakes of its ports, served through ASGI in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from peerbridge_gateway.app import create_app
from peerbridge_gateway.clients.in_memory import InMemoryReferrals
from peerbridge_gateway.config import GatewaySettings
from peerbridge_gateway.idempotency.memory_store import InMemoryIdempotencyStore


@pytest.fixture
def settings(encryption_keys: str) -> GatewaySettings:
    return GatewaySettings(
        database_url="postgresql://unused.invalid/unused",  # type: ignore[arg-type]
        encryption_keys=encryption_keys,  # type: ignore[arg-type]
        max_body_bytes=4096,
        idempotency_wait_s=2.0,
    )


@pytest.fixture
def referrals() -> InMemoryReferrals:
    return InMemoryReferrals()


@pytest.fixture
def store() -> InMemoryIdempotencyStore:
    return InMemoryIdempotencyStore()


@pytest.fixture
async def client(
    settings: GatewaySettings, referrals: InMemoryReferrals, store: InMemoryIdempotencyStore
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, referrals=referrals, idempotency_store=store)
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http,
    ):
        yield http
