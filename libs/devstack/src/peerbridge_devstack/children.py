"""Child processes the supervisor started: it ends these, and only these, by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .logpump import LogPump


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    pump: LogPump

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def terminate(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM, wait for a clean exit, SIGKILL only if it hangs."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                self.process.wait(5)
        self.pump.join()
        return self.process.returncode


def spawn(name: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
    pump = LogPump(name)
    process = subprocess.Popen(
        list(argv),
        stdout=pump.write_fd,
        stderr=subprocess.STDOUT,
        env=dict(env),
        # Own session: a terminal Ctrl-C reaches the supervisor only, which then
        # stops children in order (gateway first, databases last).
        start_new_session=True,
    )
    pump.close_write_end()
    return Child(name, process, pump)


def base_environment() -> dict[str, str]:
    """The parent's environment minus the stack-wide admin settings children must not see."""
    env = dict(os.environ)
    for private in ("PEERBRIDGE_DATABASE_URL",):
        env.pop(private, None)
    return env
