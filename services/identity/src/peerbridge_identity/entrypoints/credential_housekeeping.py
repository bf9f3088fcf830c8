"""Deleting what no longer protects anything: assertion ids past their expiry and sign-in
throttle windows long over. Refresh tokens stay, as the record of sessions."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from peerbridge_platform.auth import PostgresJtiStore
from peerbridge_platform.logging import get_logger

from ..adapters.postgres_token_store import PostgresTokenStore
from ..service_layer.context import Clock

log = get_logger(__name__)

# Far longer than any throttle window, so no live window is ever deleted.
THROTTLE_KEPT = timedelta(days=1)


async def purge_periodically(pool: asyncpg.Pool, clock: Clock, interval_s: float) -> None:
    """Until cancelled; a failed round is logged and tried again next time."""
    jtis, throttle = PostgresJtiStore(pool), PostgresTokenStore(pool)
    while True:
        await asyncio.sleep(interval_s)
        try:
            now = clock()
            purged_jtis = await jtis.purge_expired(now)
            purged_windows = await throttle.purge_throttle(now - THROTTLE_KEPT)
        except (OSError, asyncpg.PostgresError) as error:
            log.warning("credential housekeeping failed", error=repr(error))
            continue
        if purged_jtis or purged_windows:
            log.info("credential housekeeping", assertion_ids=purged_jtis, windows=purged_windows)
