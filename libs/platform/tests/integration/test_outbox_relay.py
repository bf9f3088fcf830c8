"""The outbox relay against real PostgreSQL and a real Kafka broker."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Collection
from typing import Any

import asyncpg
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from peerbridge.referrals.v1 import referrals_events_pb2
from peerbridge_platform.envelope import envelope_for_proto
from peerbridge_platform.metrics import OUTBOX_FALLBACKS
from peerbridge_platform.migrations import apply_migrations
from peerbridge_platform.outbox import OUTBOX_MIGRATIONS, Guard, OutboxRelay, enqueue

pytestmark = pytest.mark.integration

CE_ID = "ce_id"


@pytest.fixture
async def outbox_db(database_url: str) -> str:
    connection = await asyncpg.connect(database_url)
    try:
        await apply_migrations(connection, OUTBOX_MIGRATIONS)
    finally:
        await connection.close()
    return database_url


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    name = f"test.outbox.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(name, 6, 1)])[name].result(timeout=30)
    return name


async def write_events(
    connection: asyncpg.Connection, topic: str, events: list[tuple[str, int]]
) -> None:
    """Each (key, seq) becomes one ReferralCreated with version=seq, in one transaction."""
    async with connection.transaction():
        for key, seq in events:
            message = referrals_events_pb2.ReferralCreated(referral_id=key, version=seq)
            envelope = envelope_for_proto(message, source="/test/outbox", subject=key)
            await enqueue(connection, topic=topic, envelope=envelope)


def consume(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0
) -> list[dict[str, object]]:
    """Read until `expected` records arrived (or the deadline); then a short grace for extras."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test.{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout_s
    extra_until: float | None = None
    try:
        while time.monotonic() < deadline:
            if extra_until is not None and time.monotonic() > extra_until:
                break
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            headers = {k: v for k, v in (message.headers() or [])}
            event = referrals_events_pb2.ReferralCreated.FromString(message.value())
            records.append(
                {
                    "key": message.key().decode(),
                    "seq": event.version,
                    "ce_id": headers[CE_ID].decode(),
                    "value": message.value(),
                }
            )
            if len(records) >= expected and extra_until is None:
                extra_until = time.monotonic() + 1.5
    finally:
        consumer.close()
    return records


async def spawn_relay(command: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    """A relay in a real, separate process, so it can be killed for real."""
    return await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )


async def pending(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
    finally:
        await connection.close()


async def test_thousand_events_keep_per_key_order(
    outbox_db: str, kafka_bootstrap: str, topic: str
) -> None:
    keys = [f"referral-{i}" for i in range(7)]
    events = [(keys[i % len(keys)], i) for i in range(1000)]
    connection = await asyncpg.connect(outbox_db)
    relay = OutboxRelay(outbox_db, kafka_bootstrap, name="order", batch_size=200)
    await relay.start()
    try:
        # Many small transactions interleaved with publishing, as a service writes them.
        for start in range(0, len(events), 50):
            await write_events(connection, topic, events[start : start + 50])
        records = await asyncio.to_thread(consume, kafka_bootstrap, topic, 1000)
    finally:
        await relay.stop()
        await connection.close()
    assert len(records) == 1000
    assert len({r["ce_id"] for r in records}) == 1000
    by_key: dict[str, list[int]] = defaultdict(list)
    for record in records:
        by_key[str(record["key"])].append(int(record["seq"]))  # type: ignore[call-overload]
    for seqs in by_key.values():
        assert seqs == sorted(seqs)
    assert await pending(outbox_db) == 0


async def test_relay_killed_between_publish_and_mark_loses_nothing(
    outbox_db: str, kafka_bootstrap: str, topic: str
) -> None:
    events = [(f"member-{i % 5}", i) for i in range(200)]
    connection = await asyncpg.connect(outbox_db)
    await write_events(connection, topic, events)
    env = os.environ | {
        "PEERBRIDGE_DATABASE_URL": outbox_db,
        "PEERBRIDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PEERBRIDGE_RELAY_POLL_INTERVAL_S": "0.2",
    }
    command = [sys.executable, "-m", "peerbridge_platform.outbox"]
    # Hold a lock that lets the relay read and publish but blocks its UPDATE:
    # it is then stuck exactly between "delivered" and "marked sent".
    blocker = await asyncpg.connect(outbox_db)
    transaction = blocker.transaction()
    await transaction.start()
    await blocker.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")
    relay = await spawn_relay(command, env)
    try:
        first = await asyncio.to_thread(consume, kafka_bootstrap, topic, 200)
        assert len(first) == 200
        relay.send_signal(signal.SIGKILL)
        await asyncio.wait_for(relay.wait(), 10)
    finally:
        if relay.returncode is None:
            relay.kill()
            await relay.wait()
        await transaction.rollback()
        await blocker.close()
    assert await pending(outbox_db) == 200  # delivered, but never marked

    restarted = await spawn_relay(command, env)
    try:
        everything = await asyncio.to_thread(consume, kafka_bootstrap, topic, 400)
        deadline = time.monotonic() + 30
        while await pending(outbox_db) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        restarted.send_signal(signal.SIGTERM)
        await asyncio.wait_for(restarted.wait(), 15)
        await connection.close()
    assert await pending(outbox_db) == 0
    assert len(everything) == 400  # each event twice: at least once, never lost
    copies: dict[str, list[bytes]] = defaultdict(list)
    for record in everything:
        copies[str(record["ce_id"])].append(record["value"])  # type: ignore[arg-type]
    assert len(copies) == 200
    # every duplicate carries the same ce_id and the same payload
    assert all(len(v) == 2 and v[0] == v[1] for v in copies.values())


async def test_two_relays_never_publish_an_event_twice(
    outbox_db: str, kafka_bootstrap: str, topic: str
) -> None:
    relays = [
        OutboxRelay(
            outbox_db, kafka_bootstrap, name=f"twin-{i}", batch_size=50, poll_interval_s=0.05
        )
        for i in range(2)
    ]
    await asyncio.gather(*(r.start() for r in relays))
    connection = await asyncpg.connect(outbox_db)
    try:
        for start in range(0, 1000, 100):
            await write_events(
                connection, topic, [(f"k{i % 13}", i) for i in range(start, start + 100)]
            )
        records = await asyncio.to_thread(consume, kafka_bootstrap, topic, 1000)
        owned = [r.stats.owned_shards for r in relays]
        assert not (owned[0] & owned[1])  # a shard has one owner at a time
        # The survivor takes over the shards of a relay that stops.
        await relays[0].stop()
        await write_events(connection, topic, [(f"k{i % 13}", i) for i in range(1000, 1100)])
        more = await asyncio.to_thread(consume, kafka_bootstrap, topic, 1100)
    finally:
        await relays[1].stop()
        await connection.close()
    assert len(records) == 1000
    assert len({r["ce_id"] for r in records}) == 1000
    assert len(more) == 1100
    assert len({r["ce_id"] for r in more}) == 1100


async def test_transactions_committing_out_of_id_order_are_not_skipped(
    outbox_db: str, kafka_bootstrap: str, topic: str
) -> None:
    early = await asyncpg.connect(outbox_db)
    late = await asyncpg.connect(outbox_db)
    relay = OutboxRelay(outbox_db, kafka_bootstrap, name="gaps", poll_interval_s=0.1)
    await relay.start()
    try:
        slow = early.transaction()
        await slow.start()
        message = referrals_events_pb2.ReferralCreated(referral_id="slow", version=1)
        await enqueue(
            early,
            topic=topic,
            envelope=envelope_for_proto(message, source="/test/outbox", subject="slow"),
        )  # takes the smaller id, commits last
        await write_events(late, topic, [("fast", 2)])
        first = await asyncio.to_thread(consume, kafka_bootstrap, topic, 1, 30)
        assert [r["key"] for r in first] == ["fast"]
        await slow.commit()
        both = await asyncio.to_thread(consume, kafka_bootstrap, topic, 2, 30)
    finally:
        await relay.stop()
        await early.close()
        await late.close()
    assert sorted(str(r["key"]) for r in both) == ["fast", "slow"]


async def test_notify_wakes_the_relay_long_before_the_poll_interval(
    outbox_db: str, kafka_bootstrap: str, topic: str
) -> None:
    relay = OutboxRelay(outbox_db, kafka_bootstrap, name="sleepy", poll_interval_s=120)
    await relay.start()
    connection = await asyncpg.connect(outbox_db)
    try:
        # Let the relay reach its long sleep first, then write.
        deadline = time.monotonic() + 30
        while relay.stats.batches == 0 and not relay.stats.owned_shards:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await write_events(connection, topic, [("wake", 1)])
        records = await asyncio.to_thread(consume, kafka_bootstrap, topic, 1, 60)
    finally:
        await relay.stop()
        await connection.close()
    assert [r["key"] for r in records] == ["wake"]


async def test_enqueue_outside_a_transaction_is_refused(outbox_db: str) -> None:
    connection = await asyncpg.connect(outbox_db)
    try:
        message = referrals_events_pb2.ReferralCreated(referral_id="x", version=1)
        envelope = envelope_for_proto(message, source="/test/outbox", subject="x")
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await enqueue(connection, topic="t", envelope=envelope)
        assert await connection.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await connection.close()


class PermitGuard:
    """A guard over rows of `permits`: holds while the permit is active, locked FOR SHARE."""

    async def holding(self, connection: asyncpg.Connection, guard_ids: Collection[str]) -> set[str]:
        rows = await connection.fetch(
            "SELECT id FROM permits WHERE id = ANY($1::text[]) AND active FOR SHARE",
            list(guard_ids),
        )
        return {r["id"] for r in rows}

    async def fell_back(self, connection: asyncpg.Connection, guard_ids: Collection[str]) -> None:
        await connection.executemany(
            "INSERT INTO fell_back (id) VALUES ($1)", [(g,) for g in guard_ids]
        )


@pytest.fixture
async def permits_db(outbox_db: str) -> str:
    connection = await asyncpg.connect(outbox_db)
    try:
        await connection.execute(
            "CREATE TABLE permits (id text PRIMARY KEY, active boolean NOT NULL);"
            "CREATE TABLE fell_back (id text NOT NULL)"
        )
    finally:
        await connection.close()
    return outbox_db


async def write_guarded(connection: asyncpg.Connection, topic: str, key: str, seq: int) -> None:
    """A ReferralCreated of version `seq` guarded by permit `key`; its fallback has version 0."""
    async with connection.transaction():
        envelope = envelope_for_proto(
            referrals_events_pb2.ReferralCreated(referral_id=key, version=seq),
            source="/test/outbox",
            subject=key,
        )
        fallback = referrals_events_pb2.ReferralCreated(referral_id=key).SerializeToString()
        await enqueue(connection, topic=topic, envelope=envelope, guard=Guard(key, fallback))


async def relay_once(
    database_url: str, bootstrap: str, topic: str, expected: int, **kw: Any
) -> list[dict[str, object]]:
    relay = OutboxRelay(database_url, bootstrap, name="guard", **kw)
    await relay.start()
    try:
        return await asyncio.to_thread(consume, bootstrap, topic, expected)
    finally:
        await relay.stop()


async def test_a_guarded_row_goes_as_written_while_its_guard_holds_and_as_its_fallback_after(
    permits_db: str, kafka_bootstrap: str, topic: str
) -> None:
    connection = await asyncpg.connect(permits_db)
    try:
        await connection.execute("INSERT INTO permits VALUES ('held', true), ('withdrawn', true)")
        await write_guarded(connection, topic, "held", 7)
        await write_guarded(connection, topic, "withdrawn", 8)
        # Withdrawn after the commit that enqueued it, before the relay ran.
        await connection.execute("UPDATE permits SET active = false WHERE id = 'withdrawn'")
        fallbacks_before = OUTBOX_FALLBACKS.labels("guard")._value.get()
        records = await relay_once(permits_db, kafka_bootstrap, topic, 2, guard=PermitGuard())
        fell_back = {r["id"] for r in await connection.fetch("SELECT id FROM fell_back")}
        events = await connection.fetch("SELECT event_id FROM outbox ORDER BY id")
    finally:
        await connection.close()
    by_key = {r["key"]: r for r in records}
    assert len(records) == 2
    assert by_key["held"]["seq"] == 7
    assert by_key["withdrawn"]["seq"] == 0  # the fallback, under the same event id
    assert [r["ce_id"] for r in records] == [e["event_id"] for e in events]
    assert fell_back == {"withdrawn"}
    assert OUTBOX_FALLBACKS.labels("guard")._value.get() == fallbacks_before + 1
    assert await pending(permits_db) == 0


async def test_a_relay_without_a_guard_sends_only_fallbacks(
    permits_db: str, kafka_bootstrap: str, topic: str
) -> None:
    connection = await asyncpg.connect(permits_db)
    try:
        await connection.execute("INSERT INTO permits VALUES ('held', true)")
        await write_guarded(connection, topic, "held", 5)
        await write_events(connection, topic, [("plain", 3)])
    finally:
        await connection.close()
    records = await relay_once(permits_db, kafka_bootstrap, topic, 2)
    assert {r["key"]: r["seq"] for r in records} == {"held": 0, "plain": 3}


async def test_a_guard_without_a_fallback_is_refused(permits_db: str) -> None:
    with pytest.raises(ValueError, match="needs an id"):
        Guard("", b"")
    connection = await asyncpg.connect(permits_db)
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute(
                "INSERT INTO outbox (event_id, topic, message_key, header_names, header_values,"
                " payload, shard, guard_id) VALUES ('e', 't', 'k', '{}', '{}', 'p', 0, 'g')"
            )
    finally:
        await connection.close()
