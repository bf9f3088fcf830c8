"""The container health probe against a real grpc.aio health server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from peerbridge_platform.grpc import probe

SERVICE = "peerbridge.referrals.v1.ReferralsService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class HealthServer:
    target: str
    health: health.aio.HealthServicer


@pytest.fixture
async def health_server() -> AsyncIterator[HealthServer]:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield HealthServer(f"127.0.0.1:{port}", servicer)
    finally:
        await server.stop(None)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers, as a hung server does."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port: int = listener.getsockname()[1]
    return port


async def run_probe(*argv: str) -> int:
    # The probe is blocking; the server under test needs this loop to answer.
    return await asyncio.to_thread(probe.main, list(argv))


async def test_exits_0_when_the_service_is_serving(
    health_server: HealthServer, capsys: pytest.CaptureFixture[str]
) -> None:
    await health_server.health.set(SERVICE, SERVING)
    assert await run_probe(health_server.target, SERVICE) == 0
    assert "SERVING" in capsys.readouterr().out


async def test_the_server_as_a_whole_is_checked_without_a_service_name(
    health_server: HealthServer,
) -> None:
    await health_server.health.set("", SERVING)
    assert await run_probe(health_server.target) == 0
    await health_server.health.set("", NOT_SERVING)
    assert await run_probe(health_server.target) == 1


async def test_exits_1_when_not_serving(
    health_server: HealthServer, capsys: pytest.CaptureFixture[str]
) -> None:
    await health_server.health.set(SERVICE, NOT_SERVING)
    assert await run_probe(health_server.target, SERVICE) == 1
    assert f"{SERVICE} at {health_server.target}: NOT_SERVING" in capsys.readouterr().err


async def test_exits_1_for_a_service_the_server_does_not_know(
    health_server: HealthServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_probe(health_server.target, "no.such.Service") == 1
    assert "NOT_FOUND" in capsys.readouterr().err


async def test_exits_1_during_graceful_shutdown(health_server: HealthServer) -> None:
    await health_server.health.set(SERVICE, SERVING)
    await health_server.health.enter_graceful_shutdown()
    assert await run_probe(health_server.target, SERVICE) == 1


async def test_exits_1_when_nothing_listens(
    closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_probe(f"127.0.0.1:{closed_port}") == 1
    assert "UNAVAILABLE" in capsys.readouterr().err


async def test_gives_up_at_the_deadline_when_the_server_hangs(
    silent_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await run_probe(f"127.0.0.1:{silent_port}", "--timeout", "0.5") == 1
    assert loop.time() - started < 3.0
    assert "DEADLINE_EXCEEDED" in capsys.readouterr().err


def test_default_deadline_is_two_seconds() -> None:
    assert probe.DEFAULT_TIMEOUT_S == 2.0


async def test_usage_errors_exit_1_not_dockers_reserved_2() -> None:
    with pytest.raises(SystemExit) as exited:
        await run_probe()
    assert exited.value.code == 1


async def test_runs_as_a_module_the_way_the_container_calls_it(
    health_server: HealthServer,
) -> None:
    await health_server.health.set(SERVICE, SERVING)
    command = [sys.executable, "-m", "peerbridge_platform.grpc.probe", health_server.target]
    for status, expected in ((SERVING, 0), (NOT_SERVING, 1)):
        await health_server.health.set(SERVICE, status)
        process = await asyncio.create_subprocess_exec(
            *command,
            SERVICE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == expected, (out + err).decode()
