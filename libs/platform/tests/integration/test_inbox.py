"""The inbox consumer against real PostgreSQL and a real Kafka broker.

The handler's effect is a row in `effects`, written in the inbox's
transaction; `effects` has no unique key, so an effect applied twice shows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from peerbridge.referrals.v1 import referrals_events_pb2
from peerbridge_platform.envelope import Envelope, encode, envelope_for_proto
from peerbridge_platform.inbox import INBOX_MIGRATIONS, Handler, InboxConsumer, RetryPolicy
from peerbridge_platform.kafka.topics import TopicSpec, dead_letter_topic, ensure_topics
from peerbridge_platform.migrations import apply_migrations

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay_s=0.01, max_delay_s=0.05)

Raw = tuple[bytes | None, bytes | None, list[tuple[str, str | bytes | None]]]


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    connection = await asyncpg.connect(database_url)
    try:
        await apply_migrations(connection, INBOX_MIGRATIONS)
        await connection.execute(
            "CREATE TABLE effects (id bigserial PRIMARY KEY, event_id text NOT NULL)"
        )
    finally:
        await connection.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def topic(kafka_bootstrap: str, unique_topic: str) -> str:
    """One partition, so "the next message" is well defined; plus its dead-letter topic."""
    names = [unique_topic, dead_letter_topic(unique_topic)]
    await ensure_topics(kafka_bootstrap, [TopicSpec(name, partitions=1) for name in names])
    return unique_topic


def event(referral_id: str) -> Envelope:
    message = referrals_events_pb2.ReferralCreated(referral_id=referral_id, version=1)
    return envelope_for_proto(message, source="/test/inbox", subject=referral_id)


def produce(bootstrap: str, topic: str, records: list[Raw]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value, headers in records:
        producer.produce(topic, key=key, value=value, headers=headers)
    assert producer.flush(30) == 0


def produce_events(bootstrap: str, topic: str, envelopes: list[Envelope]) -> None:
    records = [encode(e) for e in envelopes]
    produce(bootstrap, topic, [(r.key, r.value, list(r.headers)) for r in records])


def record_effect(fail_for: Callable[[Envelope], Awaitable[None]] | None = None) -> Handler:
    async def handler(connection: asyncpg.Connection, envelope: Envelope) -> None:
        # The effect first, then the failure: a rollback must take the effect away.
        await connection.execute("INSERT INTO effects (event_id) VALUES ($1)", envelope.id)
        if fail_for is not None:
            await fail_for(envelope)

    return handler


def inbox_consumer(
    pool: asyncpg.Pool, bootstrap: str, topic: str, handler: Handler, purpose: str
) -> InboxConsumer:
    return InboxConsumer(
        pool=pool,
        kafka_bootstrap=bootstrap,
        topics=[topic],
        service="test",
        # Unique per test (the topic is), so runs sharing the broker never share a group.
        purpose=f"{purpose}-{topic.rsplit('.', 1)[-1]}",
        handler=handler,
        retry=FAST_RETRY,
        poll_timeout_s=0.1,
    )


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def effects(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT event_id, count(*) AS n FROM effects GROUP BY event_id")
    return {row["event_id"]: row["n"] for row in rows}


def committed_offset(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offset for partition 0 (negative when none)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])
    result = admin.list_consumer_group_offsets([request])[group].result(timeout=30)
    return int(result.topic_partitions[0].offset)


def rewind_group(bootstrap: str, group: str, topic: str) -> None:
    """What an operator does to replay a topic: reset the (empty) group to offset 0."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 0)])
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            admin.alter_consumer_group_offsets([request])[group].result(timeout=30)
            return
        except Exception:
            # The broker may not have seen the previous member leave yet.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def read_all(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test.reader.{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                messages.append(message)
    finally:
        consumer.close()
    return messages


async def test_duplicates_and_replays_apply_the_effect_once(
    pool: asyncpg.Pool, kafka_bootstrap: str, topic: str
) -> None:
    first, second = event("r-1"), event("r-2")
    await asyncio.to_thread(produce_events, kafka_bootstrap, topic, [first, first, second])

    consumer = inbox_consumer(pool, kafka_bootstrap, topic, record_effect(), "dedup")
    await consumer.start()
    try:
        await eventually(
            lambda: _true(consumer.stats.processed + consumer.stats.duplicates == 3), "3 records"
        )
    finally:
        await consumer.stop()
    assert (consumer.stats.processed, consumer.stats.duplicates) == (2, 1)
    assert await effects(pool) == {first.id: 1, second.id: 1}
    assert await asyncio.to_thread(committed_offset, kafka_bootstrap, consumer.group, topic) == 3

    # Replay the whole topic into a new instance of the same group.
    await asyncio.to_thread(rewind_group, kafka_bootstrap, consumer.group, topic)
    replay = inbox_consumer(pool, kafka_bootstrap, topic, record_effect(), "dedup")
    await replay.start()
    try:
        await eventually(lambda: _true(replay.stats.duplicates == 3), "the replay")
    finally:
        await replay.stop()
    assert replay.stats.processed == 0
    assert await effects(pool) == {first.id: 1, second.id: 1}
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 2


async def test_a_poison_message_is_dead_lettered_and_the_next_one_applied(
    pool: asyncpg.Pool, kafka_bootstrap: str, topic: str
) -> None:
    before, poison, after = event("r-1"), event("r-poison"), event("r-3")
    tries: list[str] = []

    async def fail_on_poison(envelope: Envelope) -> None:
        if envelope.id == poison.id:
            tries.append(envelope.id)
            raise ValueError(f"cannot handle {envelope.id}")

    await asyncio.to_thread(produce_events, kafka_bootstrap, topic, [before, poison, after])
    consumer = inbox_consumer(pool, kafka_bootstrap, topic, record_effect(fail_on_poison), "dlt")
    await consumer.start()
    try:
        await eventually(lambda: _true(consumer.stats.processed == 2), "the next message")
    finally:
        await consumer.stop()

    assert len(tries) == FAST_RETRY.max_attempts
    assert consumer.stats.dead_lettered == 1
    assert await effects(pool) == {before.id: 1, after.id: 1}
    assert await asyncio.to_thread(committed_offset, kafka_bootstrap, consumer.group, topic) == 3

    [dead] = await asyncio.to_thread(read_all, kafka_bootstrap, dead_letter_topic(topic), 1)
    original = encode(poison)
    assert (dead.key(), dead.value()) == (original.key, original.value)
    headers = dict(dead.headers())
    assert headers["ce_id"] == poison.id.encode()
    assert headers["peerbridge_dlt_reason"] == f"ValueError: cannot handle {poison.id}".encode()
    assert headers["peerbridge_dlt_attempts"] == str(FAST_RETRY.max_attempts).encode()
    assert headers["peerbridge_dlt_original_topic"] == topic.encode()
    assert headers["peerbridge_dlt_original_partition"] == b"0"
    assert headers["peerbridge_dlt_original_offset"] == b"1"
    assert headers["peerbridge_dlt_consumer_group"] == consumer.group.encode()


async def test_an_undecodable_record_is_dead_lettered_at_once(
    pool: asyncpg.Pool, kafka_bootstrap: str, topic: str
) -> None:
    garbage: Raw = (b"some-key", b"not a cloud event", [("x-origin", b"somewhere")])
    keyless: Raw = (None, b"\x00\x01", [])
    good = event("r-1")
    await asyncio.to_thread(produce, kafka_bootstrap, topic, [garbage, keyless])
    await asyncio.to_thread(produce_events, kafka_bootstrap, topic, [good])

    consumer = inbox_consumer(pool, kafka_bootstrap, topic, record_effect(), "garbage")
    await consumer.start()
    try:
        await eventually(lambda: _true(consumer.stats.processed == 1), "the good record")
    finally:
        await consumer.stop()

    assert consumer.stats.dead_lettered == 2
    assert consumer.stats.failed_attempts == 0
    assert await effects(pool) == {good.id: 1}
    first, second = await asyncio.to_thread(read_all, kafka_bootstrap, dead_letter_topic(topic), 2)
    assert (first.key(), first.value()) == (b"some-key", b"not a cloud event")
    headers = dict(first.headers())
    assert headers["x-origin"] == b"somewhere"
    assert headers["peerbridge_dlt_reason"].startswith(b"undecodable: EnvelopeError")
    assert headers["peerbridge_dlt_attempts"] == b"1"
    assert headers["peerbridge_dlt_original_offset"] == b"0"
    assert (second.key(), second.value()) == (None, b"\x00\x01")
    assert dict(second.headers())["peerbridge_dlt_original_offset"] == b"1"


async def test_the_offset_is_committed_only_after_the_effect(
    pool: asyncpg.Pool, kafka_bootstrap: str, topic: str
) -> None:
    flaky = event("r-flaky")
    in_handler = asyncio.Event()
    release = asyncio.Event()
    calls: list[int] = []

    async def fail_the_first_time(envelope: Envelope) -> None:
        calls.append(1)
        if len(calls) == 1:
            in_handler.set()
            await release.wait()
            raise RuntimeError("flaky dependency")

    await asyncio.to_thread(produce_events, kafka_bootstrap, topic, [flaky])
    consumer = inbox_consumer(
        pool, kafka_bootstrap, topic, record_effect(fail_the_first_time), "flaky"
    )
    await consumer.start()
    try:
        await asyncio.wait_for(in_handler.wait(), DEADLINE_S)
        # Mid-effect: nothing committed in Kafka, nothing visible in the database.
        assert await asyncio.to_thread(committed_offset, kafka_bootstrap, consumer.group, topic) < 0
        assert await effects(pool) == {}
        release.set()
        await eventually(
            lambda: _committed_is(kafka_bootstrap, consumer.group, topic, 1), "the commit"
        )
    finally:
        await consumer.stop()
    assert len(calls) == 2
    assert consumer.stats.failed_attempts == 1
    assert (consumer.stats.processed, consumer.stats.dead_lettered) == (1, 0)
    assert await effects(pool) == {flaky.id: 1}


async def test_transient_failures_do_not_use_up_attempts(
    pool: asyncpg.Pool, kafka_bootstrap: str, topic: str
) -> None:
    contended = event("r-contended")
    conflicts = FAST_RETRY.max_attempts + 2

    async def conflict_a_few_times(_: Envelope) -> None:
        nonlocal conflicts
        if conflicts:
            conflicts -= 1
            raise asyncpg.SerializationError("could not serialize access")

    await asyncio.to_thread(produce_events, kafka_bootstrap, topic, [contended])
    consumer = inbox_consumer(
        pool, kafka_bootstrap, topic, record_effect(conflict_a_few_times), "transient"
    )
    await consumer.start()
    try:
        await eventually(lambda: _true(consumer.stats.processed == 1), "the effect")
    finally:
        await consumer.stop()
    assert (consumer.stats.dead_lettered, consumer.stats.failed_attempts) == (0, 0)
    assert await effects(pool) == {contended.id: 1}


async def test_stop_finishes_the_message_in_hand_and_commits_it(
    pool: asyncpg.Pool, kafka_bootstrap: str, topic: str
) -> None:
    slow = event("r-slow")
    in_handler = asyncio.Event()
    release = asyncio.Event()

    async def wait_for_release(_: Envelope) -> None:
        in_handler.set()
        await release.wait()

    await asyncio.to_thread(produce_events, kafka_bootstrap, topic, [slow])
    consumer = inbox_consumer(pool, kafka_bootstrap, topic, record_effect(wait_for_release), "stop")
    await consumer.start()
    await asyncio.wait_for(in_handler.wait(), DEADLINE_S)
    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0)  # let stop() begin while the handler is still busy
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, DEADLINE_S)
    assert not consumer.running
    assert await effects(pool) == {slow.id: 1}
    assert await asyncio.to_thread(committed_offset, kafka_bootstrap, consumer.group, topic) == 1


async def _true(value: bool) -> bool:
    return value


async def _committed_is(bootstrap: str, group: str, topic: str, offset: int) -> bool:
    return await asyncio.to_thread(committed_offset, bootstrap, group, topic) == offset
