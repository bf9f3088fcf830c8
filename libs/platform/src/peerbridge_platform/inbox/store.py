"""Recording that a consumer group applied an event, inside the effect's transaction."""

from __future__ import annotations

import asyncpg

_RECORD = """
INSERT INTO inbox (consumer_group, event_id, topic, kafka_partition, kafka_offset)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (consumer_group, event_id) DO NOTHING
RETURNING true
"""


async def record_once(
    connection: asyncpg.Connection,
    group: str,
    event_id: str,
    topic: str,
    partition: int,
    offset: int,
) -> bool:
    """True the first time `group` sees `event_id`; False for a duplicate (skip the effect).

    A concurrent transaction recording the same event makes this wait on the
    row lock until it commits (then False) or rolls back (then True), so two
    consumers racing after a rebalance still apply the effect once.
    """
    if not connection.is_in_transaction():
        raise RuntimeError(
            "inbox.record_once must run inside the transaction that applies the event's effect"
        )
    inserted = await connection.fetchval(_RECORD, group, event_id, topic, partition, offset)
    return inserted is True
