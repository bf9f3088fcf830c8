"""The inbox consumer: applies each event's effect once, then acknowledges it.

For each record, in partition order:
1. decode the CloudEvents envelope; a record that cannot be decoded never
   will be, so it goes to the dead-letter topic at once;
2. in one PostgreSQL transaction, record the event id in the inbox and run
   the handler (the effect); a duplicate or a replay finds its inbox row and
   skips the handler;
3. only after that transaction committed, commit the Kafka offset.

A crash between 2 and 3 redelivers the record, and the inbox skips it. A
handler failure rolls its transaction back and is retried with backoff; after
the last allowed attempt the original record goes to `<topic>.dlt` and only
once the broker has it is the offset committed. Nothing is acknowledged
whose effect did not commit and that is not safely in the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import asyncpg
import structlog
from confluent_kafka import KafkaError, KafkaException

from ..envelope import Envelope, EnvelopeError, KafkaRecord, decode
from ..kafka.producer import AsyncProducer
from ..kafka.topics import dead_letter_topic
from ..logging import get_logger
from ..tracing import TRACEPARENT, span_from
from .dead_letter import DeadLetter, dead_letter_headers, describe
from .naming import consumer_group
from .retry import RetryPolicy, counts_against_message
from .source import KafkaSource, Received
from .store import record_once

log = get_logger(__name__)

Handler = Callable[[asyncpg.Connection, Envelope], Awaitable[None]]


@dataclass
class InboxStats:
    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    failed_attempts: int = 0
    commit_failures: int = 0


class _AttemptFailed(Exception):
    def __init__(self, error: Exception, *, counted: bool) -> None:
        super().__init__(describe(error))
        self.error = error
        self.counted = counted


class InboxConsumer:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        kafka_bootstrap: str,
        topics: Sequence[str],
        service: str,
        purpose: str,
        handler: Handler,
        retry: RetryPolicy | None = None,
        auto_offset_reset: Literal["earliest", "latest"] = "earliest",
        isolation_level: Literal["read_committed", "read_uncommitted"] = "read_committed",
        poll_timeout_s: float = 0.5,
        consumer_config: Mapping[str, Any] | None = None,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.group = consumer_group(service, purpose)
        self.stats = InboxStats()
        self._pool = pool
        self._handler = handler
        self._retry = retry or RetryPolicy()
        self._poll_timeout_s = poll_timeout_s
        config: dict[str, Any] = {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": self.group,
            # Offsets are committed by hand, one message at a time, after its effect.
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": auto_offset_reset,
            "isolation.level": isolation_level,
            **(consumer_config or {}),
        }
        self._source = KafkaSource(config, topics, name=f"inbox:{self.group}")
        self._producer = AsyncProducer(
            kafka_bootstrap, config=producer_config, name=f"{self.group}.dlt"
        )
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._producer.start()
        await self._source.open()
        self._task = asyncio.create_task(self._run(), name=f"inbox:{self.group}")
        log.info("inbox consumer started", consumer_group=self.group)

    async def stop(self) -> None:
        """Finish the message in hand, commit it, then leave the group.

        Retries still pending for a failing message are abandoned without a
        commit: the message is redelivered later, to this group, in order.
        Re-raises whatever ended the consumer early, so it is not lost.
        """
        self._stopping.set()
        try:
            if self._task is not None:
                await self._task
        finally:
            await self._source.close()
            await self._producer.close()
            log.info("inbox consumer stopped", consumer_group=self.group, **vars(self.stats))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                record = await self._source.poll(self._poll_timeout_s)
                if record is None or self._stopping.is_set():
                    continue  # a record polled while stopping stays uncommitted
                if await self._consume(record):
                    await self._commit(record)
        except Exception:
            log.exception("inbox consumer failed", consumer_group=self.group)
            raise

    async def _consume(self, record: Received) -> bool:
        """Take one record to its end; False when stop() came first and it stays unacked."""
        with (
            structlog.contextvars.bound_contextvars(
                consumer_group=self.group,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            ),
            span_from(_trace_carrier(record.headers), f"inbox {record.topic}"),
        ):
            try:
                envelope = decode(record.headers, record.key, record.value)
            except EnvelopeError as exc:
                log.error("undecodable record", reason=describe(exc))
                return await self._dead_letter(record, f"undecodable: {describe(exc)}", 1)
            with structlog.contextvars.bound_contextvars(event_id=envelope.id):
                return await self._apply(record, envelope)

    async def _apply(self, record: Received, envelope: Envelope) -> bool:
        counted = 0
        uncounted = 0
        while True:
            try:
                applied = await self._attempt(record, envelope)
            except _AttemptFailed as failure:
                if failure.counted:
                    counted += 1
                    self.stats.failed_attempts += 1
                    log.warning("handler failed", attempt=counted, reason=describe(failure.error))
                    if self._retry.gives_up_after(counted):
                        return await self._dead_letter(record, describe(failure.error), counted)
                    delay = self._retry.delay_after(counted)
                else:
                    # Not the message's fault (database unreachable...): wait it out.
                    uncounted += 1
                    log.warning("transient failure", retries=uncounted, reason=str(failure))
                    delay = self._retry.delay_after(uncounted)
                if not await self._pause(delay):
                    return False
                continue
            if applied:
                self.stats.processed += 1
            else:
                self.stats.duplicates += 1
                log.info("duplicate event skipped")
            return True

    async def _attempt(self, record: Received, envelope: Envelope) -> bool:
        """One transaction: inbox row and effect together. False for a duplicate."""
        reached_handler = False
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                # The proxy forwards every Connection method; handlers get the
                # Connection type so they can pass it to outbox.enqueue and friends.
                plain = cast(asyncpg.Connection, connection)
                first = await record_once(
                    plain, self.group, envelope.id, record.topic, record.partition, record.offset
                )
                if not first:
                    return False
                reached_handler = True
                await self._handler(plain, envelope)
            return True
        except Exception as exc:
            counted = counts_against_message(exc, reached_handler=reached_handler)
            raise _AttemptFailed(exc, counted=counted) from exc

    async def _dead_letter(self, record: Received, reason: str, attempts: int) -> bool:
        """Publish the original record to its dead-letter topic and wait for the broker.

        Retried until it is delivered or stop() is called: moving on before
        the broker has it would lose the record.
        """
        letter = DeadLetter(
            reason=reason,
            attempts=attempts,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            consumer_group=self.group,
        )
        # The original key as it was, even a null one a foreign producer wrote.
        dead = KafkaRecord(
            key=cast(bytes, record.key),
            value=record.value,
            headers=dead_letter_headers(record.headers, letter),
        )
        target = dead_letter_topic(record.topic)
        failures = 0
        while True:
            try:
                await self._producer.send(dead, target)
                break
            except Exception as exc:
                failures += 1
                log.error("dead-letter publish failed", dlt=target, reason=describe(exc))
                if not await self._pause(self._retry.delay_after(failures)):
                    return False
        self.stats.dead_lettered += 1
        log.error("record dead-lettered", dlt=target, reason=reason, attempts=attempts)
        return True

    async def _commit(self, record: Received) -> None:
        try:
            await self._source.commit(record)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.fatal():
                raise
            # A rebalance took the partition away: its new owner redelivers the
            # record and the inbox skips it, so this is safe to pass over.
            self.stats.commit_failures += 1
            log.warning("offset commit failed", reason=str(exc))

    async def _pause(self, seconds: float) -> bool:
        """Sleep, cut short by stop(); False when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return not self._stopping.is_set()


def _trace_carrier(headers: Sequence[tuple[str, bytes | None]]) -> dict[str, str]:
    return {
        name: value.decode("ascii", "replace")
        for name, value in headers
        if name in (TRACEPARENT, "tracestate") and value is not None
    }
