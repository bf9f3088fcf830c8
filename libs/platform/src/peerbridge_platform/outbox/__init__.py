"""Transactional outbox: `enqueue` inside your transaction, `OutboxRelay` publishes."""

from ..migrations import load_migrations
from .guard import OutboxGuard
from .relay import OutboxRelay, RelayStats
from .writer import SHARDS, Guard, enqueue, shard_for

OUTBOX_MIGRATIONS = load_migrations("platform.outbox", "peerbridge_platform.outbox")

__all__ = [
    "OUTBOX_MIGRATIONS",
    "SHARDS",
    "Guard",
    "OutboxGuard",
    "OutboxRelay",
    "RelayStats",
    "enqueue",
    "shard_for",
]
