"""`make run`: the whole platform on one machine, in the foreground, until Ctrl-C.

Order: PostgreSQL and Kafka (local, unless URLs name existing ones), a
database and role per service, then each service (it applies its own
migrations and creates its topics), then the gateway. Readiness is real:
a SQL round trip, Kafka metadata with the group coordinator loaded, gRPC
health SERVING, the gateway's /readyz. Stopping goes in reverse order, and
only the processes started here are ended, by their pid.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .children import Child, base_environment, spawn
from .errors import StackError
from .kafka import KafkaConfig, LocalKafka
from .logpump import LogPump, emit
from .postgres import LocalPostgres, PostgresConfig
from .provision import provision
from .service_secrets import write_service_secrets
from .stack_settings import StackSettings

REFERRALS_HEALTH_NAME = "peerbridge.referrals.v1.ReferralsService"
IDENTITY_HEALTH_NAME = "peerbridge.identity.v1.IdentityService"


def say(line: str) -> None:
    emit("peerbridge", line)


@dataclass
class Stack:
    settings: StackSettings
    postgres: LocalPostgres | None = None
    kafka: LocalKafka | None = None
    children: list[Child] = field(default_factory=list)
    pumps: list[LogPump] = field(default_factory=list)
    admin_url: str = ""
    bootstrap: str = ""
    health: dict[str, str] = field(default_factory=dict)

    # -- infrastructure -------------------------------------------------
    def start_postgres(self) -> None:
        s = self.settings
        if s.database_url:
            self.admin_url = s.database_url
            self.health["postgres"] = "external (PEERBRIDGE_DATABASE_URL)"
            return
        pump = LogPump("postgres")
        self.pumps.append(pump)
        self.postgres = LocalPostgres(
            PostgresConfig(
                data_dir=s.state_dir / "postgres" / "data", host=s.host, port=s.postgres_port
            ),
            log=say,
        )
        started = time.monotonic()
        try:
            self.admin_url = self.postgres.start(output=pump.write_fd, timeout=s.startup_timeout_s)
        finally:
            pump.close_write_end()  # the server holds its own copy
        self.health["postgres"] = (
            f"{s.host}:{s.postgres_port} ready in {time.monotonic() - started:.1f}s"
        )

    def start_kafka(self) -> None:
        s = self.settings
        if s.kafka_bootstrap:
            from .kafka import probe_ready

            self.bootstrap = s.kafka_bootstrap
            ready, why = probe_ready(self.bootstrap)
            if not ready:
                raise StackError(
                    f"PEERBRIDGE_KAFKA_BOOTSTRAP={self.bootstrap} is not ready: {why}. "
                    "Start that broker, or unset the variable to run a local one."
                )
            self.health["kafka"] = f"external {self.bootstrap}"
            return
        pump = LogPump("kafka")
        self.pumps.append(pump)
        self.kafka = LocalKafka(
            KafkaConfig(
                data_dir=s.state_dir / "kafka",
                cache_dir=s.cache_dir,
                host=s.host,
                port=s.kafka_port,
                controller_port=s.kafka_controller_port,
            ),
            log=say,
        )
        started = time.monotonic()
        try:
            self.bootstrap = self.kafka.start(output=pump.write_fd, timeout=s.startup_timeout_s)
        finally:
            pump.close_write_end()
        self.health["kafka"] = f"{self.bootstrap} ready in {time.monotonic() - started:.1f}s"

    # -- services ---------------------------------------------------------
    def start_services(self) -> None:
        s = self.settings
        databases = asyncio.run(provision(self.admin_url, secrets_dir=s.state_dir / "secrets"))
        common = base_environment() | {
            "PEERBRIDGE_KAFKA_BOOTSTRAP": self.bootstrap,
            "PEERBRIDGE_LOG_FORMAT": s.log_format,
            "PYTHONUNBUFFERED": "1",
        }
        encryption_keys = _encryption_keys(s.state_dir / "secrets" / "encryption.keys")
        # Identity first: the other services will verify callers against it.
        identity_target = f"{s.host}:{s.identity_grpc_port}"
        # Tokens are issued under the gateway's public URL and accepted by every service.
        common |= {
            "PEERBRIDGE_TOKEN_ISSUER": s.token_issuer or s.gateway_url,
            "PEERBRIDGE_TOKEN_AUDIENCE": s.token_audience,
            "PEERBRIDGE_IDENTITY_TARGET": identity_target,
        }
        write_service_secrets(
            s.state_dir / "secrets",
            identity_database_url=databases["identity"].url,
            encryption_keys=encryption_keys,
        )
        self._spawn(
            "identity",
            "peerbridge_identity",
            common
            | {
                "PEERBRIDGE_DATABASE_URL": databases["identity"].url,
                "PEERBRIDGE_ENCRYPTION_KEYS": encryption_keys,
                "PEERBRIDGE_GRPC_LISTEN": identity_target,
            },
        )
        self._wait("identity", lambda: _grpc_serving(identity_target, IDENTITY_HEALTH_NAME))
        self.health["identity"] = f"{identity_target} SERVING"
        referrals_target = f"{s.host}:{s.referrals_grpc_port}"
        self._spawn(
            "referrals",
            "peerbridge_referrals",
            common
            | {
                "PEERBRIDGE_DATABASE_URL": databases["referrals"].url,
                "PEERBRIDGE_ENCRYPTION_KEYS": encryption_keys,
                "PEERBRIDGE_GRPC_LISTEN": referrals_target,
            },
        )
        self._wait("referrals", lambda: _grpc_serving(referrals_target, REFERRALS_HEALTH_NAME))
        self.health["referrals"] = f"{referrals_target} SERVING"
        self._spawn(
            "gateway",
            "peerbridge_gateway",
            common
            | {
                "PEERBRIDGE_DATABASE_URL": databases["gateway"].url,
                "PEERBRIDGE_ENCRYPTION_KEYS": encryption_keys,
                "PEERBRIDGE_HTTP_HOST": s.host,
                "PEERBRIDGE_HTTP_PORT": str(s.http_port),
                "PEERBRIDGE_REFERRALS_TARGET": referrals_target,
                "PEERBRIDGE_IDENTITY_TARGET": identity_target,
            },
        )
        self._wait("gateway", lambda: _http_ready(f"{s.gateway_url}/readyz"))
        self.health["gateway"] = f"{s.gateway_url} ready"

    def _spawn(self, name: str, module: str, env: dict[str, str]) -> None:
        say(f"starting {name} (python -m {module})")
        self.children.append(spawn(name, [sys.executable, "-m", module], env))

    def _wait(self, name: str, ready: Callable[[], bool]) -> None:
        child = next(c for c in self.children if c.name == name)
        deadline = time.monotonic() + self.settings.startup_timeout_s
        while time.monotonic() < deadline:
            if not child.running():
                raise StackError(
                    f"{name} exited with code {child.process.returncode} during start-up; "
                    "its log lines above say why."
                )
            if ready():
                return
            time.sleep(0.2)
        raise StackError(
            f"{name} was not ready within {self.settings.startup_timeout_s:.0f}s; see its log "
            "lines above (PEERBRIDGE_STARTUP_TIMEOUT_S raises the limit)."
        )

    # -- shutdown ---------------------------------------------------------
    def stop(self) -> None:
        for child in reversed(self.children):
            if child.running():
                say(f"stopping {child.name} (pid {child.pid})")
            child.terminate()
        self.children.clear()
        if self.kafka is not None:
            say("stopping kafka")
            self.kafka.stop()
        if self.postgres is not None:
            say("stopping postgres")
            self.postgres.stop()
        for pump in self.pumps:
            pump.join()

    def summary(self) -> str:
        s = self.settings
        rows = [
            "PeerBridge is running.",
            f"  gateway     {s.gateway_url}",
            f"  API docs    {s.gateway_url}/docs   (OpenAPI: {s.gateway_url}/openapi.json)",
        ]
        rows += [f"  {name:<11} {state}" for name, state in self.health.items()]
        rows.append(SUMMARY_END)
        return "\n".join(rows)


SUMMARY_END = "Press Ctrl-C to stop everything."
"""The summary's last line: whoever waits for start-up waits for this, not its first line."""


def _grpc_serving(target: str, service: str) -> bool:
    from peerbridge_platform.grpc import wait_for_serving

    try:
        asyncio.run(wait_for_serving(target, service, timeout_s=1.0))
    except (TimeoutError, OSError):
        return False
    return True


def _encryption_keys(key_file: Path) -> str:
    """The operator's PEERBRIDGE_ENCRYPTION_KEYS, else a key generated once into `key_file`."""
    from peerbridge_platform.crypto import load_or_create_key_file

    return os.environ.get("PEERBRIDGE_ENCRYPTION_KEYS") or load_or_create_key_file(key_file)


def _http_ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> int:
    from peerbridge_platform.logging import configure_logging

    # The supervisor speaks through say(); library warnings while it polls
    # readiness would only repeat what the summary reports.
    configure_logging("peerbridge", "ERROR", "console")
    settings = StackSettings()
    stack = Stack(settings)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            say(f"{signal.Signals(signum).name} received: stopping")
        stopping.set()
        # Interrupt a start-up step that is still waiting.
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code = 0
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        stack.start_postgres()
        stack.start_kafka()
        stack.start_services()
        for line in stack.summary().splitlines():
            say(line)
        while not stopping.is_set():
            for child in stack.children:
                if not child.running():
                    raise StackError(
                        f"{child.name} stopped unexpectedly (exit code "
                        f"{child.process.returncode}); stopping the platform."
                    )
            stopping.wait(1.0)
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        say(f"error: {exc}")
        code = 1
    finally:
        # A second Ctrl-C must not abandon children half-stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        say("stopped")
    return code
