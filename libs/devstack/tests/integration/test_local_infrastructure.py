"""The session's servers are real and answer on loopback."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from peerbridge_devstack.provision import provision

pytestmark = pytest.mark.integration


async def test_postgres_answers_sql(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        version = await connection.fetchval("SHOW server_version_num")
        assert int(version) >= 160000
        host = await connection.fetchval("SELECT inet_server_addr()::text")
        assert host.startswith("127.0.0.1")
    finally:
        await connection.close()


def test_kafka_round_trip(kafka_bootstrap: str) -> None:
    topic = f"test.infra.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    producer.produce(topic, key=b"k", value=b"hello")
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"test.{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None
        assert message.value() == b"hello"
    finally:
        consumer.close()


def test_auto_topic_creation_is_off(kafka_bootstrap: str) -> None:
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "message.timeout.ms": 3000, "log_level": 0}
    )
    errors: list[object] = []
    producer.produce(
        f"test.absent.{uuid.uuid4().hex[:8]}",
        value=b"x",
        on_delivery=lambda err, _msg: errors.append(err),
    )
    producer.flush(15)
    assert errors
    assert errors[0] is not None


async def test_each_service_gets_its_own_database_and_role(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    prefix = f"t{uuid.uuid4().hex[:6]}"
    secrets_dir = tmp_path_factory.mktemp("secrets")
    databases = await provision(postgres_admin_url, ("alpha", "beta"), secrets_dir, prefix)
    again = await provision(postgres_admin_url, ("alpha", "beta"), secrets_dir, prefix)
    assert databases == again  # idempotent
    alpha = await asyncpg.connect(databases["alpha"].url)
    try:
        await alpha.execute("CREATE TABLE secret_notes (id int)")
    finally:
        await alpha.close()
    # beta's role cannot even connect to alpha's database.
    beta_url_to_alpha = databases["beta"].url.rsplit("/", 1)[0] + f"/{databases['alpha'].database}"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(beta_url_to_alpha)
    assert (secrets_dir / "alpha.db-password").stat().st_mode & 0o077 == 0
