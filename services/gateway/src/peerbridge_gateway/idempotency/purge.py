"""Deletes expired idempotency keys on a schedule (expired keys are also replaced on use)."""

from __future__ import annotations

import asyncio

from peerbridge_platform.logging import get_logger

from .store import IdempotencyStore

_BATCH = 1000

log = get_logger(__name__)


async def purge_expired_keys(store: IdempotencyStore) -> int:
    """Delete every expired key, a batch at a time; return how many."""
    total = 0
    while (deleted := await store.purge_expired(_BATCH)) > 0:
        total += deleted
        if deleted < _BATCH:
            break
    return total


async def purge_periodically(store: IdempotencyStore, interval_s: float) -> None:
    """Purge now, then every `interval_s` until cancelled; a failed round is tried again later."""
    while True:
        try:
            deleted = await purge_expired_keys(store)
        except Exception:
            log.exception("purging expired idempotency keys failed; retrying next round")
        else:
            if deleted:
                log.info("expired idempotency keys purged", count=deleted)
        await asyncio.sleep(interval_s)
