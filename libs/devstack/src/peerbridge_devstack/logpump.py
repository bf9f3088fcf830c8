"""Prefixed, line-by-line output of child processes on the supervisor's terminal."""

from __future__ import annotations

import os
import sys
import threading
from typing import TextIO

_WRITE_LOCK = threading.Lock()


def emit(prefix: str, line: str, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    with _WRITE_LOCK:
        out.write(f"{prefix:<10}| {line}\n")
        out.flush()


class LogPump:
    """A pipe whose read end is copied, line by line and prefixed, to stdout."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        read_fd, self.write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, "r", encoding="utf-8", errors="replace")
        self._thread = threading.Thread(target=self._pump, name=f"log:{prefix}", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self._reader:
            emit(self.prefix, line.rstrip("\n"))

    def close_write_end(self) -> None:
        """Call once the child holds its own copy of the write end."""
        os.close(self.write_fd)

    def join(self, timeout: float = 2.0) -> None:
        self._thread.join(timeout)
