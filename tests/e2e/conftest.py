"""The whole platform, started exactly as `make run` starts it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from peerbridge_devstack.demo import client_token
from peerbridge_devstack.launch import RunningPlatform, start_platform, stop_platform
from peerbridge_devstack.seed import Seed, ensure_seeded


@pytest.fixture(scope="session")
def platform(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    running = start_platform(
        {
            "PEERBRIDGE_DATABASE_URL": postgres_admin_url,
            "PEERBRIDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
            # The published JWKS is cached a minute by default; the rotation test
            # would otherwise wait that long to see the new key published.
            "PEERBRIDGE_JWKS_CACHE_S": "1",
            # Rotation pre-publishes a key for at least the verifiers' refresh interval;
            # both shortened so the rotation test takes seconds, not a minute.
            "PEERBRIDGE_SIGNING_KEY_PUBLISH_AHEAD_S": "2",
            "PEERBRIDGE_JWKS_MIN_REFRESH_INTERVAL_S": "1",
        },
        tmp_path_factory.mktemp("platform-state"),
    )
    yield running
    stop_platform(running)


@pytest.fixture
def gateway(platform: RunningPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway_url, timeout=15) as client:
        yield client


@pytest.fixture(scope="session")
def seed(platform: RunningPlatform) -> Seed:
    """`make seed` against this platform: an admin, a program, a clinic, synthetic people
    with passwords, an eligible supporter, and two partner clients with keys."""
    return ensure_seeded(platform.stack_settings(), say=lambda _: None)


@pytest.fixture(scope="session")
def partner_token(platform: RunningPlatform, seed: Seed) -> str:
    """The program's partner app, signed in with client credentials."""
    with httpx.Client(base_url=platform.gateway_url, timeout=15) as client:
        return client_token(client, seed, "partner-app")
