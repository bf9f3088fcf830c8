"""`make bench`: relay throughput and end-to-end latency, as ratios to raw Kafka, and the
gateway's cost of verifying access tokens, as a ratio to the same request unverified.

Everything runs in this process tree against one broker and one database:
the baselines (a raw confluent-kafka producer; a raw produce-to-consume round
trip) are measured in the same run as what they judge, so the ratios hold
on any machine. Results go to the terminal and to bench/results/.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from .kafka import KafkaConfig, LocalKafka
from .launch import RunningPlatform, start_platform, stop_platform
from .paths import cache_dir, repo_root
from .ports import free_port
from .postgres import LocalPostgres, PostgresConfig

RELAY_EVENTS = int(os.environ.get("PEERBRIDGE_BENCH_RELAY_EVENTS", "20000"))
LATENCY_SAMPLES = int(os.environ.get("PEERBRIDGE_BENCH_LATENCY_SAMPLES", "200"))
TARGET_RELAY_RATIO = 0.5
# Every row guarded is the worst case (in service only consented FHIR views are, about
# a third of the referrals' rows): a transaction per batch and a row lock per consent.
TARGET_GUARDED_RATIO = 0.5
TARGET_LATENCY_RATIO = 5.0
CREATE_REFERRALS = int(os.environ.get("PEERBRIDGE_BENCH_CREATE_REFERRALS", "800"))
# The gateway (HTTP, JSON, token, idempotency record, its own gRPC call) should keep at
# least this share of what the referrals service creates when called straight.
TARGET_CREATION_RATIO = 0.4
# A status change reaches the EHR through the same outbox path as a creation.
TARGET_STATUS_P99_RATIO = 5.0
AUTH_REQUESTS = int(os.environ.get("PEERBRIDGE_BENCH_AUTH_REQUESTS", "2000"))
# Verification (an EdDSA signature and the RFC 8725 checks) should not dominate a request.
TARGET_AUTH_RATIO = 1.5
# Access tokens live 300 s; a long run signs the partner app in again before that.
TOKEN_RENEW_AFTER_S = 240


def progress(message: str) -> None:
    print(f"bench | {message}", flush=True)


@contextmanager
def infrastructure(workdir: Path) -> Iterator[tuple[str, str]]:
    """Existing servers when named, else local ones in a temporary directory."""
    admin_url = os.environ.get("PEERBRIDGE_DATABASE_URL")
    bootstrap = os.environ.get("PEERBRIDGE_KAFKA_BOOTSTRAP")
    postgres = kafka = None
    try:
        if not admin_url:
            progress("starting PostgreSQL")
            postgres = LocalPostgres(
                PostgresConfig(data_dir=workdir / "pg", port=free_port()), log=progress
            )
            admin_url = postgres.start()
        if not bootstrap:
            progress("starting Kafka")
            kafka = LocalKafka(
                KafkaConfig(
                    data_dir=workdir / "kafka",
                    cache_dir=cache_dir(),
                    port=free_port(),
                    controller_port=free_port(),
                ),
                log=progress,
            )
            bootstrap = kafka.start()
        yield admin_url, bootstrap
    finally:
        if kafka:
            kafka.stop()
        if postgres:
            postgres.stop()


def create_topic(bootstrap: str, partitions: int = 6) -> str:
    name = f"bench.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=30)
    return name


Record = tuple[bytes, bytes | None, list[tuple[str, str | bytes | None]]]


def sample_records(count: int) -> list[Record]:
    """Records shaped like real events: key, ~200-byte protobuf, CloudEvents headers."""
    from peerbridge.referrals.v1 import referrals_events_pb2
    from peerbridge_platform.envelope import encode, envelope_for_proto

    records = []
    for i in range(count):
        key = f"referral-{i % 500}"
        message = referrals_events_pb2.ReferralCreated(
            referral_id=key, subject_member_id=f"member-{i % 900}", version=i
        )
        record = encode(envelope_for_proto(message, source="/bench", subject=key))
        headers: list[tuple[str, str | bytes | None]] = list(record.headers)
        records.append((record.key, record.value, headers))
    return records


def raw_producer_rate(bootstrap: str, records: list[Record]) -> float:
    topic = create_topic(bootstrap)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5}
    )
    started = time.perf_counter()
    for key, value, headers in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(120)
    elapsed = time.perf_counter() - started
    if remaining:
        raise RuntimeError(f"raw producer left {remaining} messages undelivered")
    return len(records) / elapsed


class _PermitGuard:
    """An outbox guard over a table of permits, all active: the cost of the check itself."""

    async def holding(self, connection: asyncpg.Connection, guard_ids: Collection[str]) -> set[str]:
        rows = await connection.fetch(
            "SELECT id FROM permits WHERE id = ANY($1::text[]) AND active FOR SHARE",
            list(guard_ids),
        )
        return {row["id"] for row in rows}

    async def fell_back(self, connection: asyncpg.Connection, guard_ids: Collection[str]) -> None:
        raise AssertionError("every permit is active in the benchmark")


async def relay_rate(admin_url: str, bootstrap: str, count: int, *, guarded: bool = False) -> float:
    """Events per second the outbox relay publishes; `guarded`: each row guarded as the
    referrals service guards a consented FHIR view (a check per batch, locked FOR SHARE)."""
    from peerbridge.referrals.v1 import referrals_events_pb2
    from peerbridge_platform.envelope import envelope_for_proto
    from peerbridge_platform.migrations import apply_migrations
    from peerbridge_platform.outbox import OUTBOX_MIGRATIONS, Guard, OutboxRelay, enqueue

    database = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    connection = await asyncpg.connect(url)
    try:
        await apply_migrations(connection, OUTBOX_MIGRATIONS)
        topic = create_topic(bootstrap)
        # The relay starts first and idles; the clock runs from the commit that
        # makes every row visible at once until the last one is marked sent.
        if guarded:
            await connection.execute(
                "CREATE TABLE permits (id text PRIMARY KEY, active boolean NOT NULL);"
                "INSERT INTO permits SELECT 'referral-' || i, true FROM generate_series(0, 499) i"
            )
        relay = OutboxRelay(
            url,
            bootstrap,
            name="bench",
            batch_size=1000,
            poll_interval_s=0.05,
            guard=_PermitGuard() if guarded else None,
        )
        await relay.start()
        progress(f"writing {count} {'guarded ' if guarded else ''}outbox rows in one transaction")
        transaction = connection.transaction()
        await transaction.start()
        for i in range(count):
            key = f"referral-{i % 500}"
            message = referrals_events_pb2.ReferralCreated(
                referral_id=key, subject_member_id=f"member-{i % 900}", version=i
            )
            await enqueue(
                connection,
                topic=topic,
                envelope=envelope_for_proto(message, source="/bench", subject=key),
                guard=Guard(key, b"fallback") if guarded else None,
            )
        await transaction.commit()
        started = time.perf_counter()
        while await connection.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        await relay.stop()
        return count / elapsed
    finally:
        await connection.close()
        await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await admin.close()


def _assigned_consumer(bootstrap: str, topic: str) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench.{uuid.uuid4().hex}",
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": 10,
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.1)
    # Resolve "latest" now, so nothing produced from here on is skipped.
    for partition in consumer.assignment():
        consumer.position([partition])
    return consumer


def _wait_for(consumer: Consumer, key: bytes, deadline_s: float = 30) -> float:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        message = consumer.poll(0.05)
        if message is not None and message.error() is None and message.key() == key:
            return time.perf_counter()
    raise TimeoutError(f"no message with key {key!r} within {deadline_s}s")


def raw_round_trips(bootstrap: str, samples: int) -> list[float]:
    topic = create_topic(bootstrap)
    consumer = _assigned_consumer(bootstrap, topic)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5}
    )
    latencies = []
    try:
        for _ in range(samples):
            key = uuid.uuid4().bytes
            started = time.perf_counter()
            producer.produce(topic, key=key, value=b"x" * 600)
            producer.flush(10)
            latencies.append(_wait_for(consumer, key) - started)
    finally:
        consumer.close()
    return latencies


def gateway_to_ehr(running: RunningPlatform, bootstrap: str, samples: int) -> list[float]:
    """POST as the seeded partner app (a real client-credentials token) until the EHR
    consumer sees the FHIR event."""
    from .demo import SYNTHETIC_REFERRALS, client_token, referral_body
    from .seed import ensure_seeded

    seed = ensure_seeded(running.stack_settings(), say=lambda _: None)
    consumer = _assigned_consumer(bootstrap, "peerbridge.referrals.fhir.v1")
    latencies = []
    try:
        with httpx.Client(base_url=running.gateway_url, timeout=15) as client:
            token, token_at = client_token(client, seed, "partner-app"), time.monotonic()
            for i in range(samples):
                if time.monotonic() - token_at > TOKEN_RENEW_AFTER_S:
                    token, token_at = client_token(client, seed, "partner-app"), time.monotonic()
                item = SYNTHETIC_REFERRALS[i % 2]  # the partner app's own (outbound) ones
                body = referral_body(seed, item) | {"subject_member_id": str(uuid.uuid4())}
                response = client.post(
                    "/v1/referrals", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                returned = time.perf_counter()
                response.raise_for_status()
                key = response.json()["referral_id"].encode()
                latencies.append(_wait_for(consumer, key) - returned)
    finally:
        consumer.close()
    return latencies


def status_to_ehr(running: RunningPlatform, bootstrap: str, samples: int) -> list[float]:
    """The clinic's EHR client accepts a fresh referral; from its POST returning until the
    EHR consumer sees the accepted Task (the created one is awaited first)."""
    from .demo import SYNTHETIC_REFERRALS, client_token, referral_body
    from .seed import ensure_seeded

    seed = ensure_seeded(running.stack_settings(), say=lambda _: None)
    consumer = _assigned_consumer(bootstrap, "peerbridge.referrals.fhir.v1")
    latencies = []
    try:
        with httpx.Client(base_url=running.gateway_url, timeout=15) as client:
            partner = {"Authorization": f"Bearer {client_token(client, seed, 'partner-app')}"}
            clinic = {"Authorization": f"Bearer {client_token(client, seed, 'ehr')}"}
            for i in range(samples):
                body = referral_body(seed, SYNTHETIC_REFERRALS[i % 2])
                body["subject_member_id"] = str(uuid.uuid4())
                created = client.post("/v1/referrals", json=body, headers=partner)
                created.raise_for_status()
                referral_id = created.json()["referral_id"]
                _wait_for(consumer, referral_id.encode())
                accepted = client.post(
                    f"/v1/referrals/{referral_id}/status",
                    json={"status": "accepted", "expected_version": 1},
                    headers=clinic,
                )
                returned = time.perf_counter()
                accepted.raise_for_status()
                latencies.append(_wait_for(consumer, referral_id.encode()) - returned)
    finally:
        consumer.close()
    return latencies


def creation(running: RunningPlatform) -> dict[str, Any]:
    from .bench_throughput import creation_throughput
    from .demo import client_token
    from .seed import ensure_seeded

    seed = ensure_seeded(running.stack_settings(), say=lambda _: None)
    with httpx.Client(base_url=running.gateway_url, timeout=15) as client:
        token = client_token(client, seed, "partner-app")
    return creation_throughput(running, seed, token, CREATE_REFERRALS)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores, Python {sys.version.split()[0]}",
    }
    # Imported here: it needs the gateway, which the workspace has (make installs every
    # package) but the provision image, which runs this package too, does not.
    from .bench_auth import token_verification_cost

    progress(f"gateway token verification: {AUTH_REQUESTS} requests with and without")
    results["auth"] = token_verification_cost(AUTH_REQUESTS) | {
        "target_p50_ratio_at_most": TARGET_AUTH_RATIO
    }
    with (
        tempfile.TemporaryDirectory(prefix="peerbridge-bench-") as tmp,
        infrastructure(Path(tmp)) as (admin_url, bootstrap),
    ):
        records = sample_records(RELAY_EVENTS)
        progress(f"raw producer: {RELAY_EVENTS} records")
        raw_rate = raw_producer_rate(bootstrap, records)
        progress(f"outbox relay: {RELAY_EVENTS} events")
        relay = asyncio.run(relay_rate(admin_url, bootstrap, RELAY_EVENTS))
        progress(f"outbox relay, every row guarded: {RELAY_EVENTS} events")
        guarded = asyncio.run(relay_rate(admin_url, bootstrap, RELAY_EVENTS, guarded=True))
        results["relay"] = {
            "events": RELAY_EVENTS,
            "raw_producer_eps": round(raw_rate),
            "relay_eps": round(relay),
            "ratio": round(relay / raw_rate, 3),
            "target_ratio_at_least": TARGET_RELAY_RATIO,
            "guarded_relay_eps": round(guarded),
            "guarded_to_plain_ratio": round(guarded / relay, 3),
            "target_guarded_ratio_at_least": TARGET_GUARDED_RATIO,
        }
        progress(f"raw produce-to-consume round trips: {LATENCY_SAMPLES}")
        raw = raw_round_trips(bootstrap, LATENCY_SAMPLES)
        progress("starting the platform as make run does")
        running = start_platform(
            {"PEERBRIDGE_DATABASE_URL": admin_url, "PEERBRIDGE_KAFKA_BOOTSTRAP": bootstrap},
            Path(tmp) / "state",
        )
        try:
            progress(f"gateway POST to EHR consumer: {LATENCY_SAMPLES} referrals")
            end_to_end = gateway_to_ehr(running, bootstrap, LATENCY_SAMPLES)
            progress(
                f"referral creation: {CREATE_REFERRALS} through the gateway and "
                f"{CREATE_REFERRALS} straight over gRPC"
            )
            results["creation"] = creation(running) | {
                "target_ratio_at_least": TARGET_CREATION_RATIO
            }
            progress(f"status change to EHR consumer: {LATENCY_SAMPLES} referrals accepted")
            status_latencies = status_to_ehr(running, bootstrap, LATENCY_SAMPLES)
        finally:
            stop_platform(running)
    results["latency"] = {
        "samples": LATENCY_SAMPLES,
        "raw_round_trip_ms": {"p50": ms(percentile(raw, 0.5)), "p99": ms(percentile(raw, 0.99))},
        "gateway_to_ehr_ms": {
            "p50": ms(percentile(end_to_end, 0.5)),
            "p99": ms(percentile(end_to_end, 0.99)),
            "mean": ms(statistics.fmean(end_to_end)),
        },
        "p50_ratio": round(percentile(end_to_end, 0.5) / percentile(raw, 0.5), 2),
        "p99_ratio": round(percentile(end_to_end, 0.99) / percentile(raw, 0.99), 2),
        "target_p50_ratio_at_most": TARGET_LATENCY_RATIO,
    }
    results["status_latency"] = {
        "samples": len(status_latencies),
        "status_to_ehr_ms": {
            "p50": ms(percentile(status_latencies, 0.5)),
            "p99": ms(percentile(status_latencies, 0.99)),
        },
        "p50_ratio": round(percentile(status_latencies, 0.5) / percentile(raw, 0.5), 2),
        "p99_ratio": round(percentile(status_latencies, 0.99) / percentile(raw, 0.99), 2),
        "target_p99_ratio_at_most": TARGET_STATUS_P99_RATIO,
    }
    report(results)
    met = (
        results["relay"]["ratio"] >= TARGET_RELAY_RATIO
        and results["relay"]["guarded_to_plain_ratio"] >= TARGET_GUARDED_RATIO
        and results["latency"]["p50_ratio"] <= TARGET_LATENCY_RATIO
        and results["auth"]["p50_ratio"] <= TARGET_AUTH_RATIO
        and results["creation"]["ratio"] >= TARGET_CREATION_RATIO
        and results["status_latency"]["p99_ratio"] <= TARGET_STATUS_P99_RATIO
    )
    return 0 if met else 1


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def report(results: dict[str, Any]) -> None:
    relay, latency, auth = results["relay"], results["latency"], results["auth"]
    created, status = results["creation"], results["status_latency"]
    lines = [
        f"PeerBridge benchmarks, {results['when']} ({results['machine']})",
        f"outbox relay: {relay['relay_eps']} events/s vs raw producer {relay['raw_producer_eps']}"
        f"/s -> ratio {relay['ratio']} (target >= {relay['target_ratio_at_least']})",
        f"outbox relay, every row consent-style guarded: {relay['guarded_relay_eps']} events/s"
        f" -> {relay['guarded_to_plain_ratio']} of unguarded (target >= "
        f"{relay['target_guarded_ratio_at_least']})",
        f"gateway POST -> EHR FHIR event: p50 {latency['gateway_to_ehr_ms']['p50']} ms, "
        f"p99 {latency['gateway_to_ehr_ms']['p99']} ms",
        f"raw produce -> consume:         p50 {latency['raw_round_trip_ms']['p50']} ms, "
        f"p99 {latency['raw_round_trip_ms']['p99']} ms",
        f"ratios: p50 {latency['p50_ratio']} (target <= {latency['target_p50_ratio_at_most']}), "
        f"p99 {latency['p99_ratio']}",
        f"gateway {auth['route']}, in process: with token verification p50 "
        f"{auth['authenticated']['p50_us']} us, without {auth['unauthenticated']['p50_us']} us "
        f"-> ratio {auth['p50_ratio']} (target <= {auth['target_p50_ratio_at_most']}); "
        f"verification alone p50 {auth['token_verify_alone']['p50_us']} us",
        f"referral creation, {created['in_flight']} in flight: gateway "
        f"{created['gateway_per_s']}/s vs straight gRPC {created['direct_grpc_per_s']}/s "
        f"-> ratio {created['ratio']} (target >= {created['target_ratio_at_least']})",
        f"status change (accepted) -> EHR FHIR event: p50 {status['status_to_ehr_ms']['p50']} ms,"
        f" p99 {status['status_to_ehr_ms']['p99']} ms; ratios to the raw round trip: p50 "
        f"{status['p50_ratio']}, p99 {status['p99_ratio']} (target <= "
        f"{status['target_p99_ratio_at_most']})",
    ]
    for line in lines:
        print(line)
    out = repo_root() / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = results["when"].replace(":", "").replace("+0000", "Z")
    (out / f"foundation-{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "latest.txt").write_text("\n".join(lines) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    sys.exit(main())
