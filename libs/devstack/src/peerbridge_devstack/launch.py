"""Start the platform exactly as `make run` does, as a child process (tests, benchmarks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .errors import StackError
from .ports import free_port
from .run import SUMMARY_END
from .stack_settings import StackSettings

# The summary is printed a line at a time; ready means all of it has arrived.
READY_LINE = SUMMARY_END


@dataclass
class RunningPlatform:
    process: subprocess.Popen[str]
    gateway_url: str
    kafka_bootstrap: str
    state_dir: Path
    identity_target: str
    referrals_target: str = ""
    output: list[str] = field(default_factory=list)

    def stack_settings(self) -> StackSettings:
        """The settings the supervisor ran with, for tools that work on its state (seed)."""
        host, port = self.identity_target.rsplit(":", 1)
        return StackSettings(
            state_dir=self.state_dir,
            host=host,
            http_port=int(self.gateway_url.rsplit(":", 1)[1]),
            identity_grpc_port=int(port),
        )

    def descendants(self) -> list[psutil.Process]:
        try:
            return list(psutil.Process(self.process.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            return []

    def text(self) -> str:
        return "\n".join(self.output)


def start_platform(
    env_overrides: dict[str, str], state_dir: Path, timeout_s: float = 180
) -> RunningPlatform:
    http_port = free_port()
    identity_port, referrals_port = free_port(), free_port()
    env = (
        dict(os.environ)
        | env_overrides
        | {
            "PEERBRIDGE_STATE_DIR": str(state_dir),
            "PEERBRIDGE_HTTP_PORT": str(http_port),
            "PEERBRIDGE_REFERRALS_GRPC_PORT": str(referrals_port),
            "PEERBRIDGE_IDENTITY_GRPC_PORT": str(identity_port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("PEERBRIDGE_TEST_INFRA", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "peerbridge_devstack", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningPlatform(
        process,
        f"http://127.0.0.1:{http_port}",
        env.get("PEERBRIDGE_KAFKA_BOOTSTRAP", ""),
        state_dir,
        f"127.0.0.1:{identity_port}",
        f"127.0.0.1:{referrals_port}",
    )
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.output.append(line.rstrip("\n"))
            if READY_LINE in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not ready.wait(0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_platform(running)
            raise StackError(f"the platform did not start:\n{running.text()[-6000:]}")
    return running


def stop_platform(running: RunningPlatform, sig: int = signal.SIGINT) -> list[psutil.Process]:
    """Stop like Ctrl-C does; return the processes that were running beforehand."""
    before = running.descendants()
    if running.process.poll() is None:
        running.process.send_signal(sig)
        try:
            running.process.wait(90)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait(10)
    return before
