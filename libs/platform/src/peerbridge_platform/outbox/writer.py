"""Writing events into the outbox, inside the caller's transaction."""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..envelope import Envelope, encode

# Fixed for the life of a deployment: changing it re-maps keys to shards, so
# do it only with an empty outbox.
SHARDS = 16


def shard_for(key: bytes, shards: int = SHARDS) -> int:
    # crc32 is stable across processes and versions (unlike hash()).
    return zlib.crc32(key) % shards


@dataclass(frozen=True)
class Guard:
    """Publish the event as it stands only while `guard_id` still holds at send time (the
    relay's `OutboxGuard` decides); otherwise publish `fallback_data` in its place."""

    guard_id: str
    fallback_data: bytes

    def __post_init__(self) -> None:
        if not self.guard_id:
            raise ValueError("a guard needs an id")


async def enqueue(
    connection: asyncpg.Connection | PoolConnectionProxy,
    *,
    topic: str,
    envelope: Envelope,
    guard: Guard | None = None,
) -> None:
    """Add one event to the outbox; it commits or rolls back with the caller's work."""
    if not connection.is_in_transaction():
        raise RuntimeError(
            "outbox.enqueue must run inside the transaction that changes the state it announces"
        )
    record = encode(envelope)
    # An envelope always has data; a tombstone never goes through the outbox.
    assert record.value is not None
    fallback = None
    if guard is not None:
        # Encoded as the event itself would be, so only the body differs on the wire.
        fallback = encode(dataclasses.replace(envelope, data=guard.fallback_data)).value
    await connection.execute(
        "INSERT INTO outbox (event_id, topic, message_key, header_names, header_values, "
        "payload, shard, guard_id, fallback_payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        envelope.id,
        topic,
        record.key,
        [name for name, _ in record.headers],
        [value or b"" for _, value in record.headers],
        record.value,
        shard_for(record.key),
        None if guard is None else guard.guard_id,
        fallback,
    )
