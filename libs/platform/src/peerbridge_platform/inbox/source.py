"""A confluent-kafka Consumer driven from asyncio through one dedicated thread.

librdkafka's consumer calls block (poll, a synchronous commit, close) and
must not run on the event loop. One worker thread owns the consumer, so its
calls never overlap and run in the order they were made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from ..logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Received:
    """One record as read, nothing decoded; headers as bytes, in their order."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


class KafkaSource:
    def __init__(self, config: Mapping[str, Any], topics: Sequence[str], *, name: str) -> None:
        self._config = dict(config)
        self._topics = list(topics)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._consumer: Consumer | None = None

    async def open(self) -> None:
        self._consumer = await self._call(self._create)

    def _create(self) -> Consumer:
        consumer = Consumer(self._config)
        consumer.subscribe(self._topics)
        return consumer

    async def poll(self, timeout_s: float) -> Received | None:
        """The next record, or None when none came in time (or after a passing error)."""
        message = await self._call(self._require().poll, timeout_s)
        if message is None:
            return None
        error = message.error()
        if error is not None:
            if error.fatal():
                raise KafkaException(error)
            # librdkafka reconnects and rebalances by itself; this is for the operator.
            log.warning("kafka consumer error", error=str(error))
            return None
        return _received(message)

    async def commit(self, record: Received) -> None:
        """Commit the offset after `record`, returning once the broker has it."""
        consumer = self._require()
        after = [TopicPartition(record.topic, record.partition, record.offset + 1)]
        committed = await self._call(lambda: consumer.commit(offsets=after, asynchronous=False))
        for partition in committed or []:
            if partition.error is not None:
                raise KafkaException(partition.error)

    async def close(self) -> None:
        """Leave the group (handing partitions on at once) and stop the thread."""
        try:
            if self._consumer is not None:
                await self._call(self._consumer.close)
        finally:
            self._consumer = None
            self._executor.shutdown(wait=False)

    def _require(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("the Kafka consumer is not open")
        return self._consumer

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)


def _received(message: Message) -> Received:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("a consumed record without topic, partition or offset")
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return Received(
        topic=topic,
        partition=partition,
        offset=offset,
        key=message.key(),
        value=message.value(),
        headers=[
            (name, value.encode() if isinstance(value, str) else value) for name, value in pairs
        ],
    )
