"""The whole platform, started exactly as `make run` starts it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from peerbridge_devstack.launch import RunningPlatform, start_platform, stop_platform


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
