"""Remembering client assertion ids (`jti`) so that an assertion is used once only.

A row lives until the assertion it came from has expired; after that the
assertion is refused for its `exp` anyway, so the row can be purged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy


class JtiStore(Protocol):
    async def remember(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Record the pair; True the first time, False when it was seen before."""
        ...


class MemoryJtiStore:
    """In one process only: for tests and single-instance development."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._seen: dict[tuple[str, str], datetime] = {}
        self._clock = clock

    async def remember(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        self.purge_expired()
        if (client_id, jti) in self._seen:
            return False
        self._seen[(client_id, jti)] = expires_at
        return True

    def purge_expired(self) -> int:
        now = datetime.fromtimestamp(self._clock(), UTC)
        expired = [pair for pair, until in self._seen.items() if until < now]
        for pair in expired:
            del self._seen[pair]
        return len(expired)


class PostgresJtiStore:
    """Shared by every instance of the token endpoint; the primary key decides races."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    async def remember(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        inserted = await self._executor.fetchval(
            "INSERT INTO client_assertion_jti (client_id, jti, expires_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (client_id, jti) DO NOTHING RETURNING true",
            client_id,
            jti,
            expires_at,
        )
        return inserted is True

    async def purge_expired(self, now: datetime | None = None) -> int:
        """Delete rows whose assertion has expired; returns how many. Run it periodically."""
        result = await self._executor.execute(
            "DELETE FROM client_assertion_jti WHERE expires_at < $1", now or datetime.now(UTC)
        )
        return int(result.rsplit(" ", 1)[-1])
