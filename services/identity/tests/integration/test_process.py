"""`python -m peerbridge_identity` as operators run it: env in, JSON logs out, SIGTERM ends it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import grpc
import httpx
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


METRICS = f"127.0.0.1:{free_port()}"


@pytest.fixture
def service_process(
    database_url: str, kafka_bootstrap: str, encryption_keys: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    target = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "peerbridge_identity"],
        env=environment(
            PEERBRIDGE_DATABASE_URL=database_url,
            PEERBRIDGE_KAFKA_BOOTSTRAP=kafka_bootstrap,
            PEERBRIDGE_GRPC_LISTEN=target,
            PEERBRIDGE_GRPC_GRACE_S="2",
            PEERBRIDGE_ENCRYPTION_KEYS=encryption_keys,
            PEERBRIDGE_METRICS_LISTEN=METRICS,
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
    # Operators scrape the process on a listener of its own.
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://{METRICS}/metrics")).text
    assert (
        'grpc_server_handled_total{grpc_code="OK",grpc_method="Check",'
        'grpc_service="grpc.health.v1.Health"}'
    ) in metrics

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


def test_missing_settings_are_named_and_nothing_starts() -> None:
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
    lines = json_lines(result.stderr)
    assert {line["variable"] for line in lines} == {
        "PEERBRIDGE_DATABASE_URL",
        "PEERBRIDGE_ENCRYPTION_KEYS",
    }
    assert all((line["event"], line["level"]) == ("invalid setting", "error") for line in lines)


def create_admin(
    database_url: str, encryption_keys: str, username: str, password: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peerbridge_identity", "create-admin", "--username", username],
        env=environment(
            PEERBRIDGE_DATABASE_URL=database_url,
            PEERBRIDGE_ENCRYPTION_KEYS=encryption_keys,
            PEERBRIDGE_ADMIN_PASSWORD=password,
        ),
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )


async def test_create_admin_registers_an_administrator_once_per_username(
    database_url: str, encryption_keys: str
) -> None:
    password = "synthetic admin passphrase 1"

    created = create_admin(database_url, encryption_keys, "first-admin", password)
    again = create_admin(database_url, encryption_keys, "First-Admin", password)
    weak = create_admin(database_url, encryption_keys, "second-admin", "password1234")

    assert created.returncode == 0, created.stderr
    person_id = created.stdout.split()[-1]
    assert str(uuid.UUID(person_id)) == person_id
    assert password not in created.stdout + created.stderr
    assert (again.returncode, weak.returncode) == (1, 1)
    assert "taken" in again.stderr
    assert "commonly used" in weak.stderr
    connection = await asyncpg.connect(database_url)
    try:
        admins = await connection.fetch("SELECT person_id, roles FROM persons")
        credential = await connection.fetchrow("SELECT * FROM password_credentials")
        audit = await connection.fetch("SELECT action, actor_subject_id FROM audit_log")
    finally:
        await connection.close()
    assert [(str(row["person_id"]), row["roles"]) for row in admins] == [(person_id, ["admin"])]
    assert credential["username"] == "first-admin"
    assert credential["password_hash"].startswith("$argon2id$")
    assert {(row["action"], row["actor_subject_id"]) for row in audit} == {
        ("person.register", "create-admin"),
        ("person.set_password", "create-admin"),
    }
