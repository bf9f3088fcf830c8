"""The async producer and topic set-up against a real Kafka broker."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections import defaultdict

import pytest
from confluent_kafka import Consumer, KafkaError, Message
from confluent_kafka.admin import AdminClient

from peerbridge.referrals.v1 import referrals_events_pb2
from peerbridge_platform.envelope import Envelope, KafkaRecord, decode, encode, envelope_for_proto
from peerbridge_platform.kafka import (
    AUDIT_TOPIC,
    REFERRALS_FHIR_TOPIC,
    AsyncProducer,
    DeliveryFailed,
    DeliveryReport,
    KafkaProbe,
    KafkaUnavailable,
    TopicSpec,
    dead_letter_topic,
    ensure_topics,
    events_topic,
    wait_for_kafka,
)
from peerbridge_platform.settings import KafkaSettings

pytestmark = pytest.mark.integration


def unique(prefix: str = "test.producer") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def closed_port() -> str:
    """An address where nothing listens: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def partition_counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return {name: len(metadata.topics[name].partitions) for name in names}


def read(bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0) -> list[Message]:
    """Every record of `topic` from the start, until `expected` arrived or the deadline."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("test.reader"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF or not error.fatal(), error
                continue
            messages.append(message)
    finally:
        consumer.close()
    return messages


def referral_event(key: str, seq: int) -> Envelope:
    message = referrals_events_pb2.ReferralCreated(referral_id=key, version=seq)
    return envelope_for_proto(message, source="/test/producer", subject=key)


# --- topics ----------------------------------------------------------------


async def test_ensure_topics_creates_the_missing_ones_and_is_idempotent(
    kafka_bootstrap: str,
) -> None:
    events, compacted = unique(), unique()
    specs = [
        TopicSpec(events, partitions=4),
        TopicSpec(compacted, partitions=2, config={"cleanup.policy": "compact"}),
    ]

    first = await ensure_topics(kafka_bootstrap, specs)
    again = await ensure_topics(kafka_bootstrap, specs)

    assert sorted(first.created) == sorted([events, compacted])
    assert again.created == ()
    assert sorted(again.existing) == sorted([events, compacted])
    assert again.under_partitioned == {}
    assert partition_counts(kafka_bootstrap, [events, compacted]) == {events: 4, compacted: 2}


async def test_ensure_topics_reports_too_few_partitions_and_changes_nothing(
    kafka_bootstrap: str,
) -> None:
    name = unique()
    await ensure_topics(kafka_bootstrap, [TopicSpec(name, partitions=2)])

    report = await ensure_topics(kafka_bootstrap, [TopicSpec(name, partitions=8)])

    assert report.under_partitioned == {name: (2, 8)}
    assert partition_counts(kafka_bootstrap, [name]) == {name: 2}


async def test_ensure_topics_names_the_unreachable_broker() -> None:
    address = closed_port()
    with pytest.raises(KafkaUnavailable) as caught:
        await ensure_topics(address, [TopicSpec(unique())], timeout_s=2)
    assert address in str(caught.value)
    assert "PEERBRIDGE_KAFKA_BOOTSTRAP" in str(caught.value)


async def test_wait_for_kafka_returns_once_the_broker_is_ready(kafka_bootstrap: str) -> None:
    await wait_for_kafka(kafka_bootstrap, timeout_s=60)


async def test_wait_for_kafka_gives_up_at_its_deadline_naming_the_fix() -> None:
    address = closed_port()
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable) as caught:
        await wait_for_kafka(address, timeout_s=2, interval_s=0.2)
    assert time.monotonic() - started < 15
    assert address in str(caught.value)
    assert "PEERBRIDGE_KAFKA_BOOTSTRAP" in str(caught.value)


# --- delivery --------------------------------------------------------------


async def test_a_thousand_records_arrive_with_headers_and_per_key_order(
    kafka_bootstrap: str,
) -> None:
    topic = unique()
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=6)])
    keys = [f"referral-{i}" for i in range(12)]
    sent = [referral_event(keys[i % len(keys)], i) for i in range(1000)]

    async with AsyncProducer(kafka_bootstrap, name="test-1000") as producer:
        reports = await asyncio.gather(*(producer.produce(encode(e), topic) for e in sent))

    assert all(r.topic == topic and r.offset >= 0 for r in reports)
    messages = await asyncio.to_thread(read, kafka_bootstrap, topic, len(sent))
    assert len(messages) == len(sent)

    by_id = {e.id: e for e in sent}
    versions: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int | None]] = defaultdict(set)
    for message in messages:
        envelope = decode(message.headers(), message.key(), message.value())
        assert envelope == by_id[envelope.id]  # every header came back as it was written
        versions[envelope.subject].append(
            referrals_events_pb2.ReferralCreated.FromString(envelope.data).version
        )
        partitions[envelope.subject].add(message.partition())
    for key in keys:
        assert versions[key] == sorted(versions[key]), f"{key} out of order"
        assert len(partitions[key]) == 1
    assert sum(len(v) for v in versions.values()) == len(sent)


async def test_order_holds_when_the_local_queue_is_full(kafka_bootstrap: str) -> None:
    topic = unique()
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=1)])
    # A tiny librdkafka queue forces the wait-for-room path on almost every record.
    config = {"queue.buffering.max.messages": 5}
    sent = [KafkaRecord(key=b"one-key", value=str(i).encode()) for i in range(300)]

    async with AsyncProducer(kafka_bootstrap, config=config, name="test-full") as producer:
        reports = await asyncio.gather(*(producer.produce(r, topic) for r in sent))

    assert [r.offset for r in reports] == sorted(r.offset for r in reports)
    messages = await asyncio.to_thread(read, kafka_bootstrap, topic, len(sent))
    assert [m.value() for m in messages] == [r.value for r in sent]


async def test_send_batch_reports_each_record_in_order_even_when_the_queue_is_full(
    kafka_bootstrap: str,
) -> None:
    topic = unique()
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=1)])
    config = {"queue.buffering.max.messages": 7}
    sent = [KafkaRecord(key=b"one-key", value=str(i).encode()) for i in range(300)]

    async with AsyncProducer(kafka_bootstrap, config=config, name="test-batch") as producer:
        first = await producer.send(KafkaRecord(key=b"one-key", value=b"before"), topic)
        results = await producer.send_batch([(r, topic) for r in sent])

    assert all(isinstance(r, DeliveryReport) for r in results)
    offsets = [r.offset for r in results if isinstance(r, DeliveryReport)]
    assert offsets == list(range(first.offset + 1, first.offset + 301))
    messages = await asyncio.to_thread(read, kafka_bootstrap, topic, len(sent) + 1)
    assert [m.value() for m in messages] == [b"before"] + [r.value for r in sent]


async def test_send_batch_puts_a_refused_record_in_its_own_slot(kafka_bootstrap: str) -> None:
    # The broker refuses a whole record batch, so the refused record goes to a
    # strict topic of its own; its neighbours in the call still succeed.
    topic, strict = unique(), unique()
    await ensure_topics(
        kafka_bootstrap,
        [
            TopicSpec(topic, partitions=1),
            TopicSpec(strict, partitions=1, config={"max.message.bytes": "20000"}),
        ],
    )
    batch = [
        (KafkaRecord(key=b"a", value=b"fits"), topic),
        (KafkaRecord(key=b"b", value=os.urandom(100_000)), strict),
        (KafkaRecord(key=b"c", value=b"fits too"), topic),
    ]
    async with AsyncProducer(kafka_bootstrap, name="test-batch-refused") as producer:
        results = await producer.send_batch(batch)
        assert await producer.send_batch([]) == []

    assert isinstance(results[0], DeliveryReport)
    assert isinstance(results[1], DeliveryFailed)
    assert results[1].error is not None
    assert results[1].error.code() == KafkaError.MSG_SIZE_TOO_LARGE
    assert isinstance(results[2], DeliveryReport)


async def test_a_record_the_broker_refuses_fails_its_future(kafka_bootstrap: str) -> None:
    topic = unique()
    await ensure_topics(
        kafka_bootstrap, [TopicSpec(topic, partitions=1, config={"max.message.bytes": "20000"})]
    )
    # Random bytes do not compress, so the batch stays larger than the topic allows.
    record = KafkaRecord(key=b"k", value=os.urandom(100_000))

    async with AsyncProducer(kafka_bootstrap, name="test-refused") as producer:
        with pytest.raises(DeliveryFailed) as caught:
            await producer.send(record, topic)
        small = await producer.send(KafkaRecord(key=b"k", value=b"fits"), topic)

    assert caught.value.error is not None
    assert caught.value.error.code() == KafkaError.MSG_SIZE_TOO_LARGE
    assert topic in str(caught.value)
    assert not caught.value.retriable
    assert small.offset >= 0


async def test_a_record_larger_than_the_client_allows_fails_its_future(
    kafka_bootstrap: str,
) -> None:
    topic = unique()
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=1)])
    config = {"message.max.bytes": 10_000}

    async with AsyncProducer(kafka_bootstrap, config=config, name="test-local") as producer:
        with pytest.raises(DeliveryFailed) as caught:
            await producer.send(KafkaRecord(key=b"k", value=os.urandom(50_000)), topic)

    assert caught.value.error is not None
    assert caught.value.error.code() == KafkaError.MSG_SIZE_TOO_LARGE


async def test_a_topic_that_does_not_exist_fails_within_the_delivery_timeout(
    kafka_bootstrap: str,
) -> None:
    missing = unique("test.missing")

    async with AsyncProducer(
        kafka_bootstrap, delivery_timeout_ms=3000, name="test-missing"
    ) as producer:
        with pytest.raises(DeliveryFailed) as caught:
            await asyncio.wait_for(producer.send(KafkaRecord(key=b"k", value=b"v"), missing), 30)

    assert caught.value.error is not None
    assert caught.value.error.code() in {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
    assert caught.value.retriable


async def test_close_flushes_is_idempotent_and_refuses_new_records(kafka_bootstrap: str) -> None:
    topic = unique()
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=1)])
    producer = AsyncProducer(kafka_bootstrap, name="test-close")
    await producer.start()
    futures = [producer.produce(KafkaRecord(key=b"k", value=b"%d" % i), topic) for i in range(50)]

    await producer.close()
    await producer.close()

    assert all(f.done() and f.exception() is None for f in futures)
    assert producer.in_flight == 0
    with pytest.raises(RuntimeError, match="closed"):
        producer.produce(KafkaRecord(key=b"k", value=b"late"), topic)


async def test_close_fails_what_the_broker_never_confirmed(kafka_bootstrap: str) -> None:
    missing = unique("test.missing")
    producer = AsyncProducer(kafka_bootstrap, name="test-unconfirmed")
    await producer.start()
    future = producer.produce(KafkaRecord(key=b"k", value=b"v"), missing)

    await producer.close(timeout_s=1)

    with pytest.raises(DeliveryFailed):
        future.result()


# --- without a broker --------------------------------------------------------


def test_topic_names() -> None:
    assert events_topic("referrals") == "peerbridge.referrals.events.v1"
    assert dead_letter_topic(events_topic("referrals")) == "peerbridge.referrals.events.v1.dlt"
    assert REFERRALS_FHIR_TOPIC == "peerbridge.referrals.fhir.v1"
    assert AUDIT_TOPIC == "peerbridge.audit.v1"
    with pytest.raises(ValueError, match="service name"):
        events_topic("Referrals Service")


def test_topic_specs_are_validated_and_follow_settings() -> None:
    with pytest.raises(ValueError, match="not a valid Kafka topic name"):
        TopicSpec("has space")
    with pytest.raises(ValueError, match="partitions"):
        TopicSpec("t", partitions=0)
    settings = KafkaSettings(topic_partitions=3, topic_retention_ms=1000)
    spec = TopicSpec.from_settings("t", settings, {"cleanup.policy": "compact"})
    assert spec == TopicSpec("t", 3, 1, {"retention.ms": "1000", "cleanup.policy": "compact"})


async def test_one_topic_configured_two_ways_is_refused() -> None:
    with pytest.raises(ValueError, match="configured twice"):
        await ensure_topics(closed_port(), [TopicSpec("t", 1), TopicSpec("t", 2)])


@pytest.mark.parametrize("weaker", [{"acks": "1"}, {"enable.idempotence": False}])
def test_settings_that_weaken_delivery_are_refused(weaker: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="weaken delivery"):
        AsyncProducer("127.0.0.1:9", config=weaker)


async def test_producing_before_start_is_an_error() -> None:
    producer = AsyncProducer(closed_port())
    with pytest.raises(RuntimeError, match="start"):
        producer.produce(KafkaRecord(key=b"k", value=b"v"), "t")
    await producer.close()


async def test_a_kafka_probe_answers_for_a_live_broker_and_not_for_a_closed_port(
    kafka_bootstrap: str, unused_tcp_port: int
) -> None:
    live = KafkaProbe(kafka_bootstrap)
    assert await live.ready(10.0)
    assert await live.ready(10.0)  # the same client, asked again
    assert not await KafkaProbe(f"127.0.0.1:{unused_tcp_port}").ready(1.0)
