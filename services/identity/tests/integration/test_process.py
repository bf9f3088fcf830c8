"""`python -m peerbridge_identity` as operators run it: env in, JSON logs out, SIGTERM ends it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from peerbridge_devstack.ports import free_port
from peerbridge_identity.entrypoints.grpc_server import SERVICE_NAME
from peerbridge_platform.grpc import wait_for_serving

pytestmark = pytest.mark.integration

PATIENCE_S = 60.0


def environment(**variables: str) -> dict[str, str]:
    """The current environment without PEERBRIDGE_* settings, plus `variables`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PEERBRIDGE_")}
    return kept | {"PEERBRIDGE_LOG_FORMAT": "json"} | variables


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def service_process(
    database_url: str, kafka_bootstrap: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    target = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "peerbridge_identity"],
        env=environment(
            PEERBRIDGE_DATABASE_URL=database_url,
            PEERBRIDGE_KAFKA_BOOTSTRAP=kafka_bootstrap,
            PEERBRIDGE_GRPC_LISTEN=target,
            PEERBRIDGE_GRPC_GRACE_S="2",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, target
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=PATIENCE_S)


async def test_it_serves_until_sigterm_then_exits_cleanly(
    service_process: tuple[subprocess.Popen[str], str],
) -> None:
    process, target = service_process
    await wait_for_serving(target, SERVICE_NAME, timeout_s=PATIENCE_S)
    async with grpc.aio.insecure_channel(target) as channel:
        health: Any = health_pb2_grpc.HealthStub(channel)
        overall = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert overall.status == health_pb2.HealthCheckResponse.SERVING

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=PATIENCE_S)

    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 30
    assert stdout == ""
    events = [line["event"] for line in json_lines(stderr)]
    assert "serving" in events
    assert events.index("eligibility review stopped") < events.index("grpc server stopping")
    assert events.index("grpc server stopping") < events.index("outbox relay stopped")
    assert events.index("outbox relay stopped") < events.index("database pool closed")
    assert events[-1] == "identity stopped"
    assert all(line.get("service") == "identity" for line in json_lines(stderr))


def test_a_missing_database_url_is_named_and_nothing_starts() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "peerbridge_identity"],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=False,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = json_lines(result.stderr)
    assert line["event"] == "invalid setting"
    assert line["variable"] == "PEERBRIDGE_DATABASE_URL"
    assert line["level"] == "error"
