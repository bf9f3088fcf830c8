"""Readiness of a gRPC service: SERVING only while each of its dependencies answers.

Every service re-checks its dependencies (PostgreSQL and Kafka for ours) on an
interval for as long as it runs, and flips its health status when one stops
or starts answering, logging the change once rather than on every check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping

from ..logging import get_logger
from .server import GrpcServer

log = get_logger(__name__)

# One dependency check: True while the dependency answers.
Check = Callable[[], Awaitable[bool]]


class Readiness:
    """Named checks, run together; `problems()` names those that failed."""

    def __init__(self, checks: Mapping[str, Check]) -> None:
        self._checks = dict(checks)

    async def problems(self) -> list[str]:
        """What is not ready; empty when everything is."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._checks[name]() for name in names))
        return [name for name, ok in zip(names, results, strict=True) if not ok]


async def keep_health_current(readiness: Readiness, server: GrpcServer, interval_s: float) -> None:
    """Report SERVING while every dependency answers and NOT_SERVING while one does not."""
    serving: bool | None = None
    while True:
        try:
            problems = await readiness.problems()
        except Exception as error:
            # A check that breaks says nothing good about readiness; keep watching.
            log.exception("readiness check failed")
            problems = [f"readiness check: {error!r}"]
        if not problems and serving is not True:
            await server.set_serving()
            log.info("serving", address=server.address)
        elif problems and serving is not False:
            await server.set_not_serving()
            log.warning("not serving: a dependency is down", down=problems)
        serving = not problems
        await asyncio.sleep(interval_s)


async def stop_watching(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
