"""The signing keys this process uses: the active key signs, the published ones verify.

Every instance reloads the keys from storage periodically and right after it
rotates, so a rotation made by another instance is picked up within one
reload interval; an unknown `kid` also triggers a reload (at most one per
`min_reload_interval_s`), so this process verifies a sibling's fresh tokens
at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from peerbridge_platform.auth import KeySet, VerificationKey
from peerbridge_platform.logging import get_logger

from .context import Clock

log = get_logger(__name__)


class SigningKeyStore(Protocol):
    async def ensure_active(self, now: datetime) -> bool: ...

    async def rotate(self, now: datetime) -> str: ...

    async def load(self, now: datetime, grace: timedelta) -> KeySet: ...


class SigningKeys:
    """The current KeySet (also a JwksSource, for verifying our own tokens)."""

    def __init__(
        self,
        store: SigningKeyStore,
        *,
        clock: Clock,
        grace: timedelta,
        min_reload_interval_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        publish_ahead: timedelta = timedelta(0),
    ) -> None:
        self._store = store
        self._clock = clock
        self._grace = grace
        self._min_reload_interval_s = min_reload_interval_s
        self._monotonic = monotonic
        self._key_set: KeySet | None = None
        self._last_reload = float("-inf")
        self._lock = asyncio.Lock()
        # A rotated key signs this long after the rotation; reloaded then to start using it.
        self._publish_ahead = publish_ahead
        self._activations: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if await self._store.ensure_active(self._clock()):
            log.info("signing key created")
        await self.reload()

    @property
    def key_set(self) -> KeySet:
        if self._key_set is None:
            raise RuntimeError("signing keys not loaded; call start() first")
        return self._key_set

    async def reload(self) -> KeySet:
        async with self._lock:
            self._key_set = await self._store.load(self._clock(), self._grace)
            self._last_reload = self._monotonic()
            return self._key_set

    async def rotate(self) -> str:
        """A new key: published at once, signing once the pre-publication is over."""
        kid = await self._store.rotate(self._clock())
        await self.reload()
        if self._publish_ahead > timedelta(0):
            activation = asyncio.create_task(self._reload_after(self._publish_ahead))
            self._activations.add(activation)
            activation.add_done_callback(self._activations.discard)
        log.info("signing key rotated", kid=kid, signs_in_s=self._publish_ahead.total_seconds())
        return kid

    async def _reload_after(self, delay: timedelta) -> None:
        await asyncio.sleep(delay.total_seconds())
        try:
            await self.reload()
        except Exception as error:  # keep signing with the current key; the periodic reload retries
            log.warning("signing key reload failed", error=repr(error))

    async def stop(self) -> None:
        for activation in list(self._activations):
            activation.cancel()
        await asyncio.gather(*self._activations, return_exceptions=True)

    def jwks_json(self) -> str:
        """The JWKS document: public members only (KeySet.to_jwks never holds private ones)."""
        return json.dumps(self.key_set.to_jwks(), separators=(",", ":"))

    async def get_key(self, kid: str) -> VerificationKey | None:
        key = self.key_set.get(kid)
        if key is None and self._monotonic() - self._last_reload >= self._min_reload_interval_s:
            key = (await self.reload()).get(kid)
        return key

    async def reload_periodically(self, interval_s: float) -> None:
        """Until cancelled; a failed reload keeps the last keys and tries again next time."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.reload()
            except Exception as error:
                log.warning("signing key reload failed", error=repr(error))
