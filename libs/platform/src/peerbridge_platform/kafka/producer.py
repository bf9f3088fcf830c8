"""An asyncio face for confluent_kafka.Producer that keeps headers, order and errors.

librdkafka does the batching and retries in its own threads; a dedicated
thread here serves its delivery reports (poll) and hands each one to the
event loop, where it completes the future the caller awaits. Records are
handed to librdkafka in the order produce() was called, even when its
local queue is full, so per-key order holds end to end.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ..envelope import KafkaRecord
from ..logging import get_logger
from .config import producer_config
from .errors import DeliveryFailed

log = get_logger(__name__)


@dataclass(frozen=True)
class DeliveryReport:
    """Where the broker wrote a record."""

    topic: str
    partition: int
    offset: int
    latency_s: float | None = None


@dataclass
class _Waiting:
    record: KafkaRecord
    topic: str
    future: asyncio.Future[DeliveryReport]


class AsyncProducer:
    """Idempotent (acks=all) producer for asyncio code.

    `produce` never blocks the loop and returns a future for the broker's
    answer; a failed delivery completes it with DeliveryFailed. `close`
    flushes, then fails whatever the broker did not confirm: no future is
    left hanging and no failure is swallowed.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        config: Mapping[str, Any] | None = None,
        delivery_timeout_ms: int = 120_000,
        name: str = "producer",
        poll_interval_s: float = 0.1,
    ) -> None:
        self._bootstrap = bootstrap
        self._config = producer_config(
            bootstrap,
            client_id=f"peerbridge-{name}",
            delivery_timeout_ms=delivery_timeout_ms,
            overrides=config or {},
        )
        self._name = name
        self._poll_interval_s = poll_interval_s
        self._producer: Producer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: threading.Thread | None = None
        self._stop_polling = threading.Event()
        # Every future not yet completed, with its topic, so close() can fail them all.
        self._pending: dict[asyncio.Future[DeliveryReport], str] = {}
        # Records librdkafka had no room for, oldest first; while any wait, new ones queue too.
        self._backlog: deque[_Waiting] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self._fatal: KafkaError | None = None
        self._closing = False
        self._closed: asyncio.Future[None] | None = None
        # Delivery reports handed from the poll thread to the loop, settled in batches.
        self._reports: deque[tuple[asyncio.Future[DeliveryReport], DeliveryReport | BaseException]]
        self._reports = deque()
        self._reports_lock = threading.Lock()
        self._reports_scheduled = False

    async def start(self) -> None:
        if self._producer is not None:
            return
        if self._closing:
            raise RuntimeError("a closed AsyncProducer cannot be started again")
        self._loop = asyncio.get_running_loop()
        self._producer = Producer({**self._config, "error_cb": self._on_error})
        self._poller = threading.Thread(
            target=self._poll_forever, name=f"kafka-poll:{self._name}", daemon=True
        )
        self._poller.start()
        log.info("kafka producer started", producer=self._name, bootstrap=self._bootstrap)

    async def __aenter__(self) -> AsyncProducer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @property
    def in_flight(self) -> int:
        """Records produced and not yet confirmed or failed."""
        return len(self._pending)

    def produce(self, record: KafkaRecord, topic: str) -> asyncio.Future[DeliveryReport]:
        """Hand a record to Kafka without blocking; the future completes on the broker's answer."""
        loop = self._require_running()
        future: asyncio.Future[DeliveryReport] = loop.create_future()
        self._pending[future] = topic
        future.add_done_callback(self._forget)
        waiting = _Waiting(record, topic, future)
        if self._backlog or not self._hand_over(waiting):
            self._backlog.append(waiting)
            if self._drainer is None or self._drainer.done():
                self._drainer = loop.create_task(self._drain(), name=f"kafka-drain:{self._name}")
        return future

    async def send(self, record: KafkaRecord, topic: str) -> DeliveryReport:
        """Produce and wait for the broker's confirmation."""
        return await self.produce(record, topic)

    async def send_batch(
        self, items: Sequence[tuple[KafkaRecord, str]]
    ) -> list[DeliveryReport | DeliveryFailed]:
        """Produce records in order and wait for every report; one result per record, in order.

        For high-volume callers (the outbox relay): one future for the whole
        batch instead of one per record keeps the per-record cost near the raw
        producer's. A failed record is a DeliveryFailed in its slot, not a raise.
        """
        return await (await self.enqueue_batch(items))

    async def enqueue_batch(
        self, items: Sequence[tuple[KafkaRecord, str]]
    ) -> asyncio.Future[list[DeliveryReport | DeliveryFailed]]:
        """Hand records to librdkafka in order; return once all are handed over, with a
        future of their reports (as `send_batch` returns them).

        For a caller that must know when a record has left its hands (the outbox
        relay holds a lock until then), not only when the broker confirmed it.
        """
        loop = self._require_running()
        if self._drainer is not None and not self._drainer.done():
            await asyncio.wait({self._drainer})  # earlier single records go first
        producer = self._require_producer()
        results: list[DeliveryReport | DeliveryFailed | None] = [None] * len(items)
        done: asyncio.Future[None] = loop.create_future()
        if not items:
            done.set_result(None)
            return asyncio.ensure_future(_reports_when_done(done, []))
        tally = _Tally(len(items), loop, done)
        for index, (record, topic) in enumerate(items):
            if self._fatal is not None:
                results[index] = DeliveryFailed(topic, self._fatal)
                tally.count_one()
                continue
            while True:
                try:
                    producer.produce(
                        topic,
                        value=record.value,
                        key=record.key,
                        headers=list(record.headers),
                        on_delivery=partial(_batch_report, results, index, topic, tally),
                    )
                    break
                except BufferError:
                    # librdkafka's queue is full: let the poll thread free room, keep order.
                    await asyncio.sleep(0.005)
                except KafkaException as exc:
                    error = (
                        exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                    )
                    results[index] = DeliveryFailed(topic, error, None if error else str(exc))
                    tally.count_one()
                    break
        return asyncio.ensure_future(_reports_when_done(done, results))

    async def flush(self, timeout_s: float = 30.0) -> int:
        """Wait up to `timeout_s` for everything produced; returns how many are left."""
        deadline = time.monotonic() + timeout_s
        if self._drainer is not None and not self._drainer.done():
            # Records still waiting for queue room are not in librdkafka yet.
            done, _ = await asyncio.wait({self._drainer}, timeout=timeout_s)
            if not done:
                return len(self._backlog) + len(self._require_producer())
        producer = self._require_producer()
        left = await asyncio.to_thread(producer.flush, max(0.0, deadline - time.monotonic()))
        await asyncio.sleep(0)  # let reports already handed to the loop settle their futures
        return left

    async def close(self, timeout_s: float = 30.0) -> None:
        """Flush, stop the poll thread and fail what the broker did not confirm. Idempotent."""
        if self._closed is not None:
            await asyncio.shield(self._closed)
            return
        self._closed = asyncio.get_running_loop().create_future()
        self._closing = True
        try:
            await self._shut_down(timeout_s)
        finally:
            self._closed.set_result(None)

    async def _shut_down(self, timeout_s: float) -> None:
        if self._producer is None:
            return
        left = await self.flush(timeout_s)
        if self._drainer is not None:
            self._drainer.cancel()
        for waiting in self._backlog:
            _settle(waiting.future, DeliveryFailed(waiting.topic, None, "producer closed first"))
        self._backlog.clear()
        producer = self._producer
        if left:
            log.warning("kafka producer closing with unconfirmed records", left=left)
            # Purged records get their (failed) reports at the next poll.
            await asyncio.to_thread(producer.purge, True, True)
            await asyncio.to_thread(producer.flush, 5.0)
        self._stop_polling.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join)
        await asyncio.sleep(0)
        for future, topic in list(self._pending.items()):
            _settle(
                future, DeliveryFailed(topic, None, "producer closed before delivery confirmed")
            )
        if len(producer) == 0:
            await asyncio.to_thread(producer.close)
        self._producer = None
        log.info("kafka producer closed", producer=self._name, unconfirmed=left)

    def _forget(self, future: asyncio.Future[DeliveryReport]) -> None:
        self._pending.pop(future, None)

    def _require_running(self) -> asyncio.AbstractEventLoop:
        if self._closing:
            raise RuntimeError(f"producer {self._name} is closed")
        self._require_producer()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._loop or self._loop is None:
            raise RuntimeError("AsyncProducer.produce must be called on the loop that started it")
        return self._loop

    def _require_producer(self) -> Producer:
        if self._producer is None:
            raise RuntimeError(f"producer {self._name} is not started: await start() first")
        return self._producer

    def _hand_over(self, waiting: _Waiting) -> bool:
        """Give one record to librdkafka; False only when its queue is full."""
        if waiting.future.done():
            return True  # cancelled by its caller before it left: nothing to send
        if self._fatal is not None:
            _settle(waiting.future, DeliveryFailed(waiting.topic, self._fatal))
            return True
        record = waiting.record
        headers: list[tuple[str, str | bytes | None]] = list(record.headers)
        try:
            self._require_producer().produce(
                waiting.topic,
                value=record.value,
                key=record.key,
                headers=headers,
                on_delivery=partial(self._on_delivery, waiting.future, waiting.topic),
            )
        except BufferError:
            return False
        except KafkaException as exc:
            # Refused before it left (too large, unknown partition...): a failed delivery.
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            _settle(
                waiting.future, DeliveryFailed(waiting.topic, error, None if error else str(exc))
            )
        except (TypeError, ValueError) as exc:
            _settle(waiting.future, exc)
        return True

    async def _drain(self) -> None:
        """Hand waiting records over, oldest first, as librdkafka frees room."""
        delay = 0.005
        while self._backlog:
            if self._hand_over(self._backlog[0]):
                self._backlog.popleft()
                delay = 0.005
                continue
            # Backoff while the poll thread serves reports and frees queue room.
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _poll_forever(self) -> None:
        producer = self._require_producer()
        while not self._stop_polling.is_set():
            try:
                producer.poll(self._poll_interval_s)
            except Exception:
                # A callback that raised must not stop every later report.
                log.exception("kafka producer poll failed", producer=self._name)

    # Called on the poll thread (or a flushing one): only hand over to the loop.
    def _on_delivery(
        self,
        future: asyncio.Future[DeliveryReport],
        topic: str,
        error: KafkaError | None,
        message: Message,
    ) -> None:
        outcome: DeliveryReport | BaseException
        if error is not None:
            outcome = DeliveryFailed(topic, error)
        else:
            outcome = DeliveryReport(
                topic=message.topic() or topic,
                partition=_int(message.partition()),
                offset=_int(message.offset()),
                latency_s=message.latency(),
            )
        self._to_loop(future, outcome)

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal = error
            log.error("kafka producer fatal error", producer=self._name, error=str(error))
        else:
            # librdkafka reconnects and retries by itself; this is for the operator.
            log.warning("kafka producer error", producer=self._name, error=str(error))

    def _to_loop(
        self, future: asyncio.Future[DeliveryReport], outcome: DeliveryReport | BaseException
    ) -> None:
        loop = self._loop
        if loop is None:
            return
        # Reports arrive in bursts; waking the loop once per burst rather than
        # once per record keeps the handoff cheap at thousands of records a second.
        with self._reports_lock:
            self._reports.append((future, outcome))
            if self._reports_scheduled:
                return
            self._reports_scheduled = True
        try:
            loop.call_soon_threadsafe(self._settle_reports)
        except RuntimeError:
            # The loop is closed: nobody can be waiting on the future any more.
            log.warning("delivery report after the event loop closed", producer=self._name)

    def _settle_reports(self) -> None:
        with self._reports_lock:
            reports = list(self._reports)
            self._reports.clear()
            self._reports_scheduled = False
        for future, outcome in reports:
            _settle(future, outcome)


class _Tally:
    """Counts a batch's reports across threads; completes its future at the last one."""

    def __init__(
        self, expected: int, loop: asyncio.AbstractEventLoop, done: asyncio.Future[None]
    ) -> None:
        self._left = expected
        self._lock = threading.Lock()
        self._loop = loop
        self._done = done

    def count_one(self) -> None:
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            try:
                self._loop.call_soon_threadsafe(_complete, self._done)
            except RuntimeError:
                log.warning("batch delivery reports after the event loop closed")


def _complete(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def _batch_report(
    results: list[DeliveryReport | DeliveryFailed | None],
    index: int,
    topic: str,
    tally: _Tally,
    error: KafkaError | None,
    message: Message,
) -> None:
    # Runs on the poll thread; each slot is written once, before the count that releases it.
    if error is not None:
        results[index] = DeliveryFailed(topic, error)
    else:
        results[index] = DeliveryReport(
            topic=message.topic() or topic,
            partition=_int(message.partition()),
            offset=_int(message.offset()),
            latency_s=message.latency(),
        )
    tally.count_one()


def _settle(
    future: asyncio.Future[DeliveryReport], outcome: DeliveryReport | BaseException
) -> None:
    if future.done():
        return  # cancelled by the caller, or failed at close
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _int(value: int | None) -> int:
    return -1 if value is None else value


async def _reports_when_done(
    done: asyncio.Future[None], results: list[DeliveryReport | DeliveryFailed | None]
) -> list[DeliveryReport | DeliveryFailed]:
    await done
    return [r if r is not None else DeliveryFailed("", None, "no report") for r in results]
