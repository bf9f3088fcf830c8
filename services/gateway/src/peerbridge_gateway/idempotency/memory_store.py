"""An in-memory idempotency store: for tests and single-process development."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from .store import KeyRecord, KeyScope, StoredResponse


@dataclass
class _Row:
    fingerprint: str
    token: UUID
    claimed_at: float
    expires_at: float
    response: StoredResponse | None = None


class InMemoryIdempotencyStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rows: dict[KeyScope, _Row] = {}
        self._lock = asyncio.Lock()

    async def claim(
        self,
        scope: KeyScope,
        fingerprint: str,
        token: UUID,
        *,
        lease_s: float,
        retention_s: float,
    ) -> bool:
        async with self._lock:
            now = self._clock()
            row = self._rows.get(scope)
            if row is not None and not self._replaceable(row, fingerprint, now, lease_s):
                return False
            self._rows[scope] = _Row(fingerprint, token, now, now + retention_s)
            return True

    @staticmethod
    def _replaceable(row: _Row, fingerprint: str, now: float, lease_s: float) -> bool:
        if row.expires_at <= now:
            return True
        stale = row.response is None and row.claimed_at <= now - lease_s
        return stale and row.fingerprint == fingerprint

    async def find(self, scope: KeyScope) -> KeyRecord | None:
        async with self._lock:
            row = self._rows.get(scope)
            if row is None or row.expires_at <= self._clock():
                return None
            return KeyRecord(row.fingerprint, row.response)

    async def complete(self, scope: KeyScope, token: UUID, response: StoredResponse) -> bool:
        async with self._lock:
            row = self._rows.get(scope)
            if row is None or row.token != token or row.response is not None:
                return False
            row.response = response
            return True

    async def release(self, scope: KeyScope, token: UUID) -> None:
        async with self._lock:
            row = self._rows.get(scope)
            if row is not None and row.token == token and row.response is None:
                del self._rows[scope]

    async def purge_expired(self, batch: int) -> int:
        async with self._lock:
            now = self._clock()
            doomed = [scope for scope, row in self._rows.items() if row.expires_at <= now][:batch]
            for scope in doomed:
                del self._rows[scope]
            return len(doomed)

    async def ping(self) -> None:
        return None
