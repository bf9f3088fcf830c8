"""Runs a request at most once per idempotency key, and replays its response to duplicates.

The first request claims the key and runs; a duplicate that arrives meanwhile
polls until the response is recorded, then replays it. A response below 500 is
recorded (a 4xx is as final as a 2xx); a 5xx, or a failure, releases the key so
a retry can run again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from peerbridge_platform.logging import get_logger

from .store import IdempotencyStore, KeyScope, StoredResponse

_FIRST_POLL_S = 0.02
_MAX_POLL_S = 0.25

log = get_logger(__name__)


class KeyReusedError(Exception):
    """The key was used before for a different request."""


class StillInProgressError(Exception):
    """The first request with this key has not finished within the wait."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"still in progress; retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Execution:
    response: StoredResponse
    replayed: bool


@dataclass(frozen=True)
class GuardPolicy:
    # How long a duplicate waits for the first request to finish.
    wait_s: float
    # When an unfinished claim counts as abandoned.
    lease_s: float
    # How long a finished key can be replayed.
    retention_s: float


class IdempotencyGuard:
    def __init__(self, store: IdempotencyStore, policy: GuardPolicy) -> None:
        self._store = store
        self._policy = policy

    async def execute(
        self,
        scope: KeyScope,
        fingerprint: str,
        action: Callable[[], Awaitable[StoredResponse]],
    ) -> Execution:
        """Run `action` if the key is new; replay its recorded response if not.

        Raises KeyReusedError for another request under the same key, and
        StillInProgressError when the first request outlasts the wait.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._policy.wait_s
        interval = _FIRST_POLL_S
        while True:
            token = uuid.uuid4()
            if await self._store.claim(
                scope,
                fingerprint,
                token,
                lease_s=self._policy.lease_s,
                retention_s=self._policy.retention_s,
            ):
                return Execution(await self._run(scope, token, action), replayed=False)
            record = await self._store.find(scope)
            # No record: released or expired since the claim; claim again.
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise KeyReusedError()
                if record.response is not None:
                    return Execution(record.response, replayed=True)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise StillInProgressError(retry_after_s=1)
            await asyncio.sleep(min(interval, remaining))
            interval = min(interval * 2, _MAX_POLL_S)

    async def _run(
        self, scope: KeyScope, token: uuid.UUID, action: Callable[[], Awaitable[StoredResponse]]
    ) -> StoredResponse:
        try:
            response = await action()
        except BaseException:
            await self._release(scope, token)
            raise
        if response.status_code >= 500:
            await self._release(scope, token)
        elif not await self._store.complete(scope, token, response):
            # Our claim was taken over (we outlived the lease); the taker records its own.
            log.warning("idempotency claim lost before completion", key=scope.key)
        return response

    async def _release(self, scope: KeyScope, token: uuid.UUID) -> None:
        # Shielded: a cancelled request must still let go of its key.
        await asyncio.shield(asyncio.ensure_future(self._release_now(scope, token)))

    async def _release_now(self, scope: KeyScope, token: uuid.UUID) -> None:
        try:
            await self._store.release(scope, token)
        except Exception:
            # Not fatal: the claim is taken over once its lease ends.
            log.exception("could not release idempotency key", key=scope.key)
