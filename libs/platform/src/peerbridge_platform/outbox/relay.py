"""The outbox relay: publishes committed outbox rows to Kafka, in order, at least once.

How it stays correct with several instances and crashes:
- No high-water mark: a row is pending while `sent_at IS NULL`, so a row whose
  transaction took its id early but committed late is simply read later,
  never skipped.
- The outbox is split into shards by key; a relay publishes only shards it
  holds a session advisory lock on. One owner per shard keeps per-key order
  and stops two relays publishing the same row. A relay that dies loses its
  connection and so its locks; another relay picks the shards up.
- Rows are marked sent only after Kafka confirmed delivery (acks=all,
  idempotent producer). A crash in between re-publishes those rows with
  the same ce_id, which idempotent consumers ignore.
- LISTEN/NOTIFY wakes the relay at commit; polling every interval stays the
  safety net for missed notifications.
- A guarded row (see guard.py) goes out as it stands only if the relay's
  `OutboxGuard` says its guard still holds when the row is handed to the
  producer; otherwise its fallback goes in its place. A relay without a guard
  sends every guarded row's fallback: withholding is the safe mistake.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ..envelope import KafkaRecord
from ..kafka.errors import DeliveryFailed
from ..kafka.producer import AsyncProducer, DeliveryReport
from ..logging import get_logger
from ..metrics import OUTBOX_FALLBACKS, OUTBOX_PUBLISHED, OUTBOX_RELAY_FAILURES
from .batching import Outcome, rows_to_mark_sent
from .guard import OutboxGuard
from .writer import SHARDS

log = get_logger(__name__)

# Advisory lock namespace for outbox shards ("PBOX"); the shard is the second key.
_LOCK_CLASS = 0x50424F58
_CHANNEL = "peerbridge_outbox"

_PENDING = """
SELECT id, topic, message_key, header_names, header_values, payload, guard_id, fallback_payload
FROM outbox
WHERE sent_at IS NULL AND shard = ANY($1::smallint[]) AND id > $2
ORDER BY id
LIMIT $3
"""


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    failures: int = 0
    owned_shards: set[int] = field(default_factory=set)


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        kafka_bootstrap: str,
        *,
        name: str,
        shards: int = SHARDS,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        retain_sent_s: float = 24 * 3600,
        producer_config: dict[str, Any] | None = None,
        guard: OutboxGuard | None = None,
    ) -> None:
        self._database_url = database_url
        self._guard = guard
        self._name = name
        self._shards = shards
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._retain_sent_s = retain_sent_s
        self._producer = AsyncProducer(
            kafka_bootstrap, config=producer_config or {}, name=f"outbox-relay-{name}"
        )
        self._connection: asyncpg.Connection | None = None
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_purge = 0.0
        self.stats = RelayStats()

    async def start(self) -> None:
        await self._producer.start()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay:{self._name}")

    async def stop(self) -> None:
        """Finish the batch in flight, then release the shards and the producer."""
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._disconnect()
        await self._producer.close()

    def wake(self) -> None:
        self._wakeup.set()

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                await self._connect()
                await self._acquire_free_shards()
                published = await self._publish_batch()
                await self._purge_sent()
                backoff = 0.2
                if published >= self._batch_size:
                    continue  # more is waiting: drain before sleeping
                await self._sleep(self._poll_interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Connection loss or a broker outage: nothing is marked sent that
                # was not delivered, so retrying the whole step is safe.
                self.stats.failures += 1
                OUTBOX_RELAY_FAILURES.labels(self._name).inc()
                log.warning("outbox relay step failed", relay=self._name, error=repr(exc))
                await self._disconnect()
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        self._wakeup.clear()

    async def _connect(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            return
        self._connection = await asyncpg.connect(self._database_url, timeout=10)
        await self._connection.add_listener(_CHANNEL, self._on_notify)
        self.stats.owned_shards = set()

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        self.stats.owned_shards = set()
        if connection is not None and not connection.is_closed():
            # Closing the session releases its advisory locks, handing shards on.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=5)

    async def _acquire_free_shards(self) -> None:
        assert self._connection is not None
        missing = [s for s in range(self._shards) if s not in self.stats.owned_shards]
        if not missing:
            return
        rows = await self._connection.fetch(
            "SELECT s FROM unnest($2::int[]) AS s WHERE pg_try_advisory_lock($1, s)",
            _LOCK_CLASS,
            missing,
        )
        gained = {int(r["s"]) for r in rows}
        if gained:
            self.stats.owned_shards |= gained
            log.info(
                "outbox shards acquired",
                relay=self._name,
                shards=sorted(gained),
                owned=len(self.stats.owned_shards),
            )

    async def _publish_batch(self) -> int:
        """Publish what is pending in owned shards; return how many rows were handled.

        Two batches are in flight at most: while Kafka acknowledges one, the
        next is read and produced. Producing stays sequential, so per-key order
        holds. `after` only spans this drain: the next drain starts from the
        lowest pending id again, so a late-committing row is never skipped.
        """
        assert self._connection is not None
        if not self.stats.owned_shards:
            return 0
        shards = sorted(self.stats.owned_shards)
        handled, after = 0, 0
        in_flight: _Batch | None = None
        while True:
            rows = await self._connection.fetch(_PENDING, shards, after, self._batch_size)
            try:
                batch = _Batch(rows, await self._hand_over(rows))
            except BaseException:
                if in_flight is not None:
                    await in_flight.abandon()
                raise
            if in_flight is not None:
                try:
                    await self._settle(in_flight)
                except BaseException:
                    await batch.abandon()
                    raise
            if not rows:
                return handled
            handled += len(rows)
            after = rows[-1]["id"]
            in_flight = batch
            if len(rows) < self._batch_size:
                await self._settle(in_flight)
                return handled

    async def _hand_over(
        self, rows: list[asyncpg.Record]
    ) -> asyncio.Future[list[DeliveryReport | DeliveryFailed]]:
        """Give `rows` to the producer in order; guarded rows as their guard decides."""
        assert self._connection is not None
        guarded = {r["guard_id"] for r in rows if r["guard_id"] is not None}
        if not guarded:
            return await self._producer.enqueue_batch([(_record_of(r), r["topic"]) for r in rows])
        # The guard's locks last until the rows are in the producer's hands.
        async with self._connection.transaction():
            holding = await self._guard.holding(self._connection, guarded) if self._guard else set()
            fallen = guarded - holding
            if fallen and self._guard is not None:
                await self._guard.fell_back(self._connection, fallen)
            if fallen:
                OUTBOX_FALLBACKS.labels(self._name).inc(len(fallen))
                log.info("outbox rows sent as their fallback", relay=self._name, rows=len(fallen))
            return await self._producer.enqueue_batch(
                [(_record_of(r, fallback=r["guard_id"] in fallen), r["topic"]) for r in rows]
            )

    async def _settle(self, batch: _Batch) -> None:
        """Wait for a batch's delivery reports, then mark what may be marked sent."""
        assert self._connection is not None
        results = await batch.deliveries
        outcomes = [
            Outcome(row["id"], row["message_key"], _error_of(result))
            for row, result in zip(batch.rows, results, strict=True)
        ]
        sent = rows_to_mark_sent(outcomes)
        if sent:
            await self._connection.execute(
                "UPDATE outbox SET sent_at = clock_timestamp() WHERE id = ANY($1::bigint[])", sent
            )
        self.stats.published += len(sent)
        OUTBOX_PUBLISHED.labels(self._name).inc(len(sent))
        self.stats.batches += 1
        failed = len(batch.rows) - len(sent)
        if failed:
            first = next(o.error for o in outcomes if o.error is not None)
            raise RuntimeError(
                f"{failed} of {len(batch.rows)} outbox rows not delivered: {first!r}"
            )

    async def _purge_sent(self) -> None:
        """Sent rows are kept a while for inspection, then deleted."""
        now = time.monotonic()
        if now - self._last_purge < 60:
            return
        self._last_purge = now
        assert self._connection is not None
        await self._connection.execute(
            "DELETE FROM outbox WHERE sent_at < clock_timestamp() - make_interval(secs => $1)",
            self._retain_sent_s,
        )

    async def pending(self) -> int:
        """Rows not yet published (all shards): the backlog operators watch."""
        connection = await asyncpg.connect(self._database_url, timeout=10)
        try:
            return int(
                await connection.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            )
        finally:
            await connection.close()


@dataclass
class _Batch:
    rows: list[asyncpg.Record]
    deliveries: asyncio.Future[list[DeliveryReport | DeliveryFailed]]

    async def abandon(self) -> None:
        """Collect the reports of a batch that will not be marked (it is re-sent later)."""
        with contextlib.suppress(Exception):
            await self.deliveries


def _record_of(row: asyncpg.Record, *, fallback: bool = False) -> KafkaRecord:
    # asyncpg hands bytea back as bytes already: no copies on this hot path.
    names: Sequence[str] = row["header_names"]
    values: Sequence[bytes] = row["header_values"]
    return KafkaRecord(
        key=row["message_key"],
        value=row["fallback_payload"] if fallback else row["payload"],
        headers=list(zip(names, values, strict=True)),
    )


def _error_of(result: object) -> BaseException | None:
    return result if isinstance(result, BaseException) else None
