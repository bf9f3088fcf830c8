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
