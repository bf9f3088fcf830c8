"""The JWKS document served at `/.well-known/jwks.json`: identity's, cached briefly.

Partner apps and EHRs fetch it to verify access tokens themselves. A short
cache keeps that traffic off identity; when identity cannot answer, the last
good copy is served for a bounded time (asking identity again every
`retry_s`, not on every request), then the endpoint answers 503.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from peerbridge_platform.logging import get_logger

log = get_logger(__name__)

JWKS_MEDIA_TYPE = "application/jwk-set+json"


class JwksNotAvailable(Exception):
    """No JWKS document could be fetched, and no recent enough copy is kept."""


@dataclass(frozen=True)
class JwksDocument:
    body: bytes
    fetched_at: float


class CachedJwks:
    """`download` (identity's GetJwks) behind a cache of `ttl_s`; one fetch at a time."""

    def __init__(
        self,
        download: Callable[[], Awaitable[str]],
        *,
        ttl_s: float,
        max_stale_s: float = 3600.0,
        retry_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._download = download
        self._ttl_s = ttl_s
        self._max_stale_s = max_stale_s
        self._retry_s = retry_s
        # After a failed fetch the stale copy stands until then: an outage must not turn
        # every request into a call to identity that waits for its deadline.
        self._retry_at = float("-inf")
        self._clock = clock
        self._document: JwksDocument | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> JwksDocument:
        if self._fresh():
            assert self._document is not None
            return self._document
        async with self._lock:
            # Another request may have refreshed it while this one waited.
            if not self._fresh():
                await self._refresh()
            assert self._document is not None
            return self._document

    def _fresh(self) -> bool:
        if self._document is None:
            return False
        now = self._clock()
        return now - self._document.fetched_at < self._ttl_s or now < self._retry_at

    async def _refresh(self) -> None:
        try:
            text = await self._download()
            document = json.loads(text)
            if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                raise ValueError("not a JWKS document")
        except Exception as error:
            usable = (
                self._document is not None
                and self._clock() - self._document.fetched_at < self._ttl_s + self._max_stale_s
            )
            log.warning("jwks fetch failed", error=type(error).__name__, serving_stale=usable)
            if not usable:
                raise JwksNotAvailable from error
            self._retry_at = self._clock() + self._retry_s
            return
        # Re-serialised: only what parsed as JSON leaves the gateway.
        body = json.dumps(document, separators=(",", ":")).encode()
        self._document = JwksDocument(body=body, fetched_at=self._clock())
