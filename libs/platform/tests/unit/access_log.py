"""Waiting for the server's access log line of a gRPC call in tests."""

from __future__ import annotations

import asyncio
from typing import Any


async def access_log_line(logs: list[dict[str, Any]], patience_s: float = 5.0) -> dict[str, Any]:
    """The one `grpc call` line, waiting for it (bounded)."""
    for _ in range(int(patience_s / 0.02)):
        lines = [entry for entry in logs if entry["event"] == "grpc call"]
        if lines:
            (line,) = lines
            return line
        await asyncio.sleep(0.02)
    raise AssertionError("no access log line")
