"""`make run` on its own infrastructure: starts, serves, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import signal

import httpx
import psutil
import pytest

from peerbridge_devstack.launch import start_platform, stop_platform
from peerbridge_devstack.paths import cache_dir
from peerbridge_devstack.ports import free_port

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_starts_local_servers_and_stops_every_process(
    sig: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {
        "PEERBRIDGE_POSTGRES_PORT": str(free_port()),
        "PEERBRIDGE_KAFKA_PORT": str(free_port()),
        "PEERBRIDGE_KAFKA_CONTROLLER_PORT": str(free_port()),
        "PEERBRIDGE_CACHE_DIR": str(cache_dir()),
        # Local servers: the supervisor must not be pointed at existing ones.
        "PEERBRIDGE_DATABASE_URL": "",
        "PEERBRIDGE_KAFKA_BOOTSTRAP": "",
    }
    platform = start_platform(env, tmp_path_factory.mktemp("run-state"))
    summary = platform.text()
    for expected in ("gateway", "/docs", "/openapi.json", "postgres", "kafka", "referrals"):
        assert expected in summary
    assert httpx.get(f"{platform.gateway_url}/readyz", timeout=10).status_code == 200
    names = {p.name() for p in platform.descendants()}
    assert "postgres" in names
    assert "java" in names  # the Kafka broker

    before = stop_platform(platform, sig)
    assert platform.process.returncode == 0, platform.text()[-3000:]
    assert before, "the supervisor had started no processes"
    survivors = [p for p in before if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == [], [p.cmdline() for p in survivors]
    assert "stopped" in platform.text().splitlines()[-1]
