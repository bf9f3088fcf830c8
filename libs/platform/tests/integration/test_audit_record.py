"""The audit trail on real PostgreSQL and Kafka: written with the work, append-only, published."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from peerbridge.audit.v1 import audit_events_pb2
from peerbridge_platform.audit import AUDIT_MIGRATIONS, Actor, Auditor, Outcome
from peerbridge_platform.auth import Principal, Role, principal_context
from peerbridge_platform.envelope import decode, unpack_proto
from peerbridge_platform.grpc import call_context
from peerbridge_platform.migrations import apply_migrations
from peerbridge_platform.outbox import OUTBOX_MIGRATIONS, OutboxRelay

pytestmark = pytest.mark.integration

MEMBER = "member-3c1d"
CLINICIAN = Principal(
    subject="clinician-42",
    roles=frozenset({Role.CLINICIAN}),
    scopes=frozenset({"referrals.read"}),
    organization_id="org-clinic",
    client_id="ehr-riverside",
    token_id="tok-1",
    expires_at=datetime(2030, 1, 1, tzinfo=UTC),
)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    connection = await asyncpg.connect(database_url)
    try:
        await apply_migrations(connection, [*OUTBOX_MIGRATIONS, *AUDIT_MIGRATIONS])
        # A stand-in for a service's own table.
        await connection.execute("CREATE TABLE notes (id text PRIMARY KEY, body text NOT NULL)")
    finally:
        await connection.close()
    async with asyncpg.create_pool(database_url, min_size=1, max_size=4) as pool:
        yield pool


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    name = f"test.audit.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(name, 3, 1)])[name].result(timeout=30)
    return name


@pytest.fixture
def audit(pool: asyncpg.Pool) -> Auditor:
    return Auditor("referrals", pool=pool)


async def counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM notes) AS notes, (SELECT count(*) FROM audit_log) AS audit,"
        " (SELECT count(*) FROM outbox) AS outbox"
    )
    assert row is not None
    return row["notes"], row["audit"], row["outbox"]


async def test_the_record_commits_with_the_business_change(
    pool: asyncpg.Pool, audit: Auditor
) -> None:
    with (
        call_context(request_id="req-77", caller=None),
        principal_context(CLINICIAN, peer="ipv4:10.1.2.3:40000"),
    ):
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute("INSERT INTO notes VALUES ('n-1', 'synthetic note')")
            entry = await audit.record(
                connection,
                action="note.create",
                resource_type="note",
                resource_id="n-1",
                subject_id=MEMBER,
                outcome=Outcome.ALLOWED,
                purpose="TREAT",
            )
    assert await counts(pool) == (1, 1, 1)
    row = await pool.fetchrow("SELECT * FROM audit_log")
    assert row is not None
    assert str(row["audit_id"]) == entry.audit_id
    assert (row["action"], row["outcome"], row["purpose_of_use"]) == (
        "note.create",
        "allowed",
        "TREAT",
    )
    assert (row["actor_subject_id"], row["actor_client_id"], row["actor_organization_id"]) == (
        "clinician-42",
        "ehr-riverside",
        "org-clinic",
    )
    assert row["actor_roles"] == ["clinician"]
    assert (row["peer"], row["request_id"]) == ("ipv4:10.1.2.3:40000", "req-77")
    outbox = await pool.fetchrow("SELECT event_id, message_key FROM outbox")
    assert outbox is not None
    assert (outbox["event_id"], bytes(outbox["message_key"])) == (entry.audit_id, MEMBER.encode())


async def test_the_record_rolls_back_with_the_business_change(
    pool: asyncpg.Pool, audit: Auditor
) -> None:
    async def create_then_fail() -> None:
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute("INSERT INTO notes VALUES ('n-2', 'synthetic note')")
            await audit.record(
                connection,
                action="note.create",
                resource_type="note",
                resource_id="n-2",
                subject_id=MEMBER,
                outcome=Outcome.ALLOWED,
                purpose="TREAT",
            )
            raise RuntimeError("business failure")

    with pytest.raises(RuntimeError, match="business failure"):
        await create_then_fail()
    assert await counts(pool) == (0, 0, 0)


async def test_record_refuses_to_run_outside_a_transaction(
    pool: asyncpg.Pool, audit: Auditor
) -> None:
    async with pool.acquire() as connection:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await audit.record(
                connection,
                action="note.read",
                resource_type="note",
                outcome=Outcome.ALLOWED,
                purpose="TREAT",
            )
    assert await counts(pool) == (0, 0, 0)


async def test_a_denied_attempt_is_recorded_on_its_own(pool: asyncpg.Pool, audit: Auditor) -> None:
    async def refused_request() -> None:
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute("INSERT INTO notes VALUES ('n-3', 'never kept')")
            raise PermissionError("not addressed to this clinic")

    with principal_context(CLINICIAN, peer="ipv4:10.1.2.3:40001"):
        # The request's own transaction rolls back; the denial stays on record.
        with pytest.raises(PermissionError):
            await refused_request()
        entry = await audit.record_denied(
            action="referral.read",
            resource_type="referral",
            resource_id="ref-9",
            subject_id=MEMBER,
            purpose="TREAT",
            reason="referral not addressed to the caller's organization",
        )
    assert await counts(pool) == (0, 1, 1)
    assert entry.outcome is Outcome.DENIED
    assert entry.actor.subject_id == "clinician-42"
    outcome = await pool.fetchval("SELECT outcome FROM audit_log")
    assert outcome == "denied"


async def test_record_denied_needs_a_pool() -> None:
    with pytest.raises(RuntimeError, match="pool"):
        await Auditor("referrals").record_denied(
            action="referral.read", resource_type="referral", purpose="TREAT"
        )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET outcome = 'allowed'",
        "UPDATE audit_log SET reason = NULL WHERE true",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
async def test_the_audit_log_is_append_only(
    pool: asyncpg.Pool, audit: Auditor, statement: str
) -> None:
    await audit.record_denied(
        action="referral.read",
        resource_type="referral",
        subject_id=MEMBER,
        purpose="TREAT",
        reason="synthetic",
        actor=Actor(subject_id="member-other"),
    )
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await pool.execute(statement)
    row = await pool.fetchrow("SELECT outcome, reason FROM audit_log")
    assert row is not None
    assert (row["outcome"], row["reason"]) == ("denied", "synthetic")


def consume_one(
    bootstrap: str, topic: str, timeout_s: float = 60.0
) -> tuple[bytes | None, audit_events_pb2.AuditRecorded]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test.{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            envelope = decode(message.headers(), message.key(), message.value())
            return message.key(), unpack_proto(envelope, audit_events_pb2.AuditRecorded)
    finally:
        consumer.close()
    raise AssertionError(f"no record on {topic} within {timeout_s}s")


async def test_the_event_reaches_kafka_through_the_outbox_relay(
    pool: asyncpg.Pool, database_url: str, kafka_bootstrap: str, topic: str
) -> None:
    audit = Auditor("referrals", pool=pool, topic=topic)
    with principal_context(CLINICIAN, peer="ipv4:10.1.2.3:40002"):
        entry = await audit.record_denied(
            action="referral.read",
            resource_type="referral",
            resource_id="ref-5",
            subject_id=MEMBER,
            purpose="TREAT",
            reason="no active consent for this recipient",
        )
    relay = OutboxRelay(database_url, kafka_bootstrap, name="audit-test", poll_interval_s=0.2)
    await relay.start()
    try:
        key, event = await asyncio.to_thread(consume_one, kafka_bootstrap, topic)
    finally:
        await relay.stop()
    assert key == MEMBER.encode()
    assert event.audit_id == entry.audit_id
    assert event.outcome == audit_events_pb2.AUDIT_OUTCOME_DENIED
    assert event.actor.subject_id == "clinician-42"
    assert event.origin.peer == "ipv4:10.1.2.3:40002"
    assert event.subject_id == MEMBER
