"""The scheduled eligibility review: an asyncio task that notices what the passage of time changed.

Writes re-assess a supporter as they happen; this catches what no write
causes (a certification lapsing overnight). Several replicas may run it at
once: each batch skips supporters another transaction holds.
"""

from __future__ import annotations

import asyncio

from peerbridge_platform.logging import get_logger

from ..service_layer.application import IdentityApplication

log = get_logger(__name__)

# A bound per round, so one round cannot run forever if something keeps becoming due.
MAX_BATCHES_PER_ROUND = 1000


async def review_due(application: IdentityApplication, batch_size: int) -> int:
    """Review every supporter due today, batch by batch; returns how many."""
    reviewed = 0
    for _ in range(MAX_BATCHES_PER_ROUND):
        count = await application.review_due_supporters(batch_size)
        reviewed += count
        if count < batch_size:
            break
    return reviewed


async def review_periodically(
    application: IdentityApplication, *, interval_s: float, batch_size: int
) -> None:
    """Review now, then every `interval_s`, until cancelled.

    A failed round is logged and tried again at the next interval: the due
    supporters stay due, so nothing is lost by waiting.
    """
    while True:
        try:
            await review_due(application, batch_size)
        except Exception:
            log.exception("eligibility review failed; trying again at the next interval")
        await asyncio.sleep(interval_s)
