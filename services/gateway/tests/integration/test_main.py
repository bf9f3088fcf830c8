"""`python -m peerbridge_gateway` as `make run` starts it: readiness tells the truth, and
SIGTERM or SIGINT stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import asyncpg
import httpx
import pytest

from peerbridge_devstack.ports import free_port

pytestmark = pytest.mark.integration

Spawn = Callable[[list[str], dict[str, str], Path], subprocess.Popen[bytes]]
FreshDatabase = Callable[[], AbstractAsyncContextManager[str]]


async def wait_for_http(url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    async with asyncio.timeout(60), httpx.AsyncClient(timeout=5) as client:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the gateway exited with {process.returncode}")
            try:
                return await client.get(url)
            except httpx.TransportError:
                await asyncio.sleep(0.05)


async def wait_for_exit(process: subprocess.Popen[bytes], timeout_s: float = 30) -> int:
    async with asyncio.timeout(timeout_s):
        while process.poll() is None:
            await asyncio.sleep(0.05)
    return process.returncode


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_not_ready_without_its_services_and_stops_cleanly(
    new_database: FreshDatabase,
    spawn_process: Spawn,
    tmp_path: Path,
    stop_signal: signal.Signals,
    encryption_keys: str,
    kafka_bootstrap: str,
) -> None:
    async with new_database() as database_url:
        port, metrics = free_port(), free_port()
        env = os.environ | {
            "PEERBRIDGE_DATABASE_URL": database_url,
            "PEERBRIDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "PEERBRIDGE_HTTP_PORT": str(port),
            # Nothing listens there: the referrals service is down.
            "PEERBRIDGE_REFERRALS_TARGET": f"127.0.0.1:{free_port()}",
            "PEERBRIDGE_IDENTITY_TARGET": f"127.0.0.1:{free_port()}",
            "PEERBRIDGE_GRPC_TIMEOUT_S": "1",
            "PEERBRIDGE_ENCRYPTION_KEYS": encryption_keys,
            "PEERBRIDGE_METRICS_LISTEN": f"127.0.0.1:{metrics}",
        }
        log = tmp_path / "gateway.log"
        process = spawn_process([sys.executable, "-m", "peerbridge_gateway"], env, log)

        health = await wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
        assert health.json() == {"status": "ok"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.headers["content-type"] == "application/problem+json"
            problem = ready.json()
            assert problem["checks"]["database"] == "ok"
            assert problem["checks"]["referrals"] != "ok"
            assert problem["checks"]["identity"] != "ok"
            assert "referrals" in problem["detail"]
            # Every /v1 route wants a token, even with identity down.
            refused = await client.get("/v1/referrals")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == 'Bearer realm="peerbridge"'
        # The refusals are counted by route on the metrics listener, not on the API's port.
        async with httpx.AsyncClient(timeout=10) as client:
            scraped = (await client.get(f"http://127.0.0.1:{metrics}/metrics")).text
        assert 'route="/v1/referrals",status="401"' in scraped
        assert (
            await httpx.AsyncClient().get(f"http://127.0.0.1:{port}/metrics")
        ).status_code == 404

        # Its migrations ran at start-up.
        connection = await asyncpg.connect(database_url)
        try:
            assert await connection.fetchval("SELECT count(*) FROM idempotency_keys") == 0
        finally:
            await connection.close()

        process.send_signal(stop_signal)
        assert await wait_for_exit(process) == 0


def test_missing_settings_are_named(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERBRIDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "peerbridge_gateway"],
        env=env | {"PEERBRIDGE_HTTP_PORT": "not-a-port"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "PEERBRIDGE_DATABASE_URL" in result.stderr
    assert "PEERBRIDGE_HTTP_PORT" in result.stderr
    # No key is made up: the missing one is named, with how to generate it.
    assert "PEERBRIDGE_ENCRYPTION_KEYS" in result.stderr
    assert "python -m peerbridge_platform.crypto new-key" in result.stderr
