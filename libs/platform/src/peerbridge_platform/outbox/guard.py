"""The relay's last check before a guarded event leaves: does its guard still hold?

A service that discloses under a condition that can be withdrawn (a member's
consent, which may be revoked between the commit that enqueued the event and
the relay's send) gives such events a guard id and a fallback body. The relay
asks the service's `OutboxGuard`, in a transaction that lasts until the events
are handed to the producer, which guards still hold; the guard locks what it
read, so a withdrawal either commits first (and the fallback goes) or waits
until the event has left (and was sent while the guard held).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import asyncpg


class OutboxGuard(Protocol):
    async def holding(self, connection: asyncpg.Connection, guard_ids: Collection[str]) -> set[str]:
        """The ids of `guard_ids` that still hold, locked (e.g. FOR SHARE) until the
        caller's transaction ends."""
        ...

    async def fell_back(self, connection: asyncpg.Connection, guard_ids: Collection[str]) -> None:
        """Record, in the caller's transaction, that the events under `guard_ids` go out as
        their fallback."""
        ...
