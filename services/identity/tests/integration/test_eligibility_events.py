"""The whole process against real PostgreSQL and Kafka, with a clock the test moves.

Eligibility changes reach Kafka as a consumer sees them (a plain
confluent_kafka Consumer, decoded by `ce_type`): GRANTED at the write that
completed the requirements, then EXPIRING_SOON and EXPIRED found by the
scheduled review after the clock passes the warning window and the
certification's last day. Each change is announced once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from google.protobuf.message import Message

from peerbridge.identity.v1 import identity_events_pb2 as events_pb2
from peerbridge.identity.v1 import identity_resources_pb2 as resources_pb2
from peerbridge.identity.v1 import identity_service_pb2 as service_pb2
from peerbridge.identity.v1 import identity_service_pb2_grpc as service_grpc
from peerbridge_identity.config import IdentitySettings
from peerbridge_identity.entrypoints.app import IdentityProcess
from peerbridge_identity.entrypoints.grpc_server import SERVICE_NAME
from peerbridge_platform.grpc import create_channel, wait_for_serving

pytestmark = pytest.mark.integration

TOPIC = "peerbridge.identity.events.v1"
PATIENCE_S = 60.0
EVENT_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        events_pb2.OrganizationRegistered,
        events_pb2.PersonRegistered,
        events_pb2.ProfileUpdated,
        events_pb2.RoleGranted,
        events_pb2.RoleRevoked,
        events_pb2.ClientRegistered,
        events_pb2.SupporterEligibilityChanged,
    )
}


@pytest.fixture
async def running(
    database_url: str, kafka_bootstrap: str, clock: Any, verifier: Any, encryption_keys: str
) -> AsyncIterator[IdentityProcess]:
    settings = IdentitySettings(
        database_url=database_url,  # type: ignore[arg-type]
        encryption_keys=encryption_keys,  # type: ignore[arg-type]
        kafka_bootstrap=kafka_bootstrap,
        grpc_listen="127.0.0.1:0",
        grpc_grace_s=2.0,
        # Often, so a moved clock is noticed at once.
        eligibility_check_interval_s=0.1,
    )
    process = IdentityProcess(settings, clock=clock, verifier=verifier)
    await process.start()
    try:
        assert process.server is not None
        await wait_for_serving(process.server.address, SERVICE_NAME, timeout_s=PATIENCE_S)
        yield process
    finally:
        await process.stop()


class EventReader:
    """A plain consumer of the identity topic, decoding by ce_type, keeping records by key."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"test.identity.{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self._consumer.subscribe([TOPIC])
        self.by_key: dict[str, list[tuple[dict[str, str], Message]]] = {}

    def read_until(self, done: Any, deadline_s: float = PATIENCE_S) -> None:
        deadline = time.monotonic() + deadline_s
        while not done() and time.monotonic() < deadline:
            record = self._consumer.poll(0.25)
            if record is None or record.error() is not None:
                continue
            headers = {n: (v or b"").decode() for n, v in record.headers() or []}
            decoded = EVENT_TYPES[headers["ce_type"]].FromString(record.value())
            key = (record.key() or b"").decode()
            self.by_key.setdefault(key, []).append((headers, decoded))

    def of_type(self, key: str, message_type: type[Message]) -> list[Any]:
        return [m for _, m in self.by_key.get(key, []) if isinstance(m, message_type)]

    def close(self) -> None:
        self._consumer.close()


@pytest.fixture
def reader(kafka_bootstrap: str) -> Any:
    events = EventReader(kafka_bootstrap)
    yield events
    events.close()


def when(day: date) -> resources_pb2.Date:
    return resources_pb2.Date(year=day.year, month=day.month, day=day.day)


def profile() -> resources_pb2.Profile:
    return resources_pb2.Profile(
        display_name="Jordan (test)", language="es-US", time_zone="America/Los_Angeles"
    )


async def test_eligibility_changes_reach_kafka_including_expiry_found_by_the_review(
    running: IdentityProcess, reader: Any, clock: Any, admin_interceptors: list[Any]
) -> None:
    assert running.server is not None
    assert running.application is not None
    today = clock.today()
    async with create_channel(
        running.server.address, default_timeout_s=10, interceptors=admin_interceptors
    ) as channel:
        stub: Any = service_grpc.IdentityServiceStub(channel)
        program = (
            await stub.RegisterOrganization(
                service_pb2.RegisterOrganizationRequest(
                    kind=resources_pb2.ORGANIZATION_KIND_PEER_SUPPORT_PROGRAM,
                    name="Kafka Peer Program (test)",
                    program_settings=resources_pb2.ProgramSettings(
                        required_training=[
                            resources_pb2.TrainingRequirement(
                                module=resources_pb2.TrainingModuleRef(
                                    standard=resources_pb2.TRAINING_MODULE_ETHICS
                                )
                            )
                        ]
                    ),
                )
            )
        ).organization
        org_id = program.organization_id
        supervisor = (
            await stub.RegisterPerson(
                service_pb2.RegisterPersonRequest(
                    roles=[resources_pb2.ROLE_SUPERVISOR], organization_id=org_id, profile=profile()
                )
            )
        ).person
        supporter = (
            await stub.RegisterPerson(
                service_pb2.RegisterPersonRequest(
                    roles=[resources_pb2.ROLE_PEER_SUPPORTER],
                    organization_id=org_id,
                    profile=profile(),
                )
            )
        ).person
        await stub.RecordTraining(
            service_pb2.RecordTrainingRequest(
                person_id=supporter.person_id,
                module=resources_pb2.TrainingModuleRef(
                    standard=resources_pb2.TRAINING_MODULE_ETHICS
                ),
                completed_on=when(today),
            )
        )
        # Valid through today + 59: it lapses in 60 days.
        certification = (
            await stub.RecordCertification(
                service_pb2.RecordCertificationRequest(
                    person_id=supporter.person_id,
                    credential_type="IC&RC Peer Recovery (PR)",
                    issuing_body="Synthetic Certification Board",
                    credential_number="PR-KAFKA-1",
                    valid_from=when(today),
                    valid_until=when(today + timedelta(days=59)),
                )
            )
        ).certification
        await stub.VerifyCertification(
            service_pb2.VerifyCertificationRequest(
                certification_id=certification.certification_id,
                decision=service_pb2.VERIFICATION_DECISION_VERIFIED,
                verified_by=supervisor.person_id,
            )
        )
        await stub.AssignSupervisor(
            service_pb2.AssignSupervisorRequest(
                supporter_id=supporter.person_id, supervisor_id=supervisor.person_id
            )
        )
    key = supporter.person_id

    def changes() -> list[Any]:
        return reader.of_type(key, events_pb2.SupporterEligibilityChanged)

    await asyncio.to_thread(reader.read_until, lambda: len(changes()) >= 1)
    clock.advance(days=31)  # the lapse is now 29 days away: inside the window
    await asyncio.to_thread(reader.read_until, lambda: len(changes()) >= 2)
    clock.advance(days=29)  # the certification's last day has passed
    await asyncio.to_thread(reader.read_until, lambda: len(changes()) >= 3)

    assert [(c.change, c.status) for c in changes()] == [
        (events_pb2.ELIGIBILITY_CHANGE_GRANTED, resources_pb2.ELIGIBILITY_STATUS_ELIGIBLE),
        (
            events_pb2.ELIGIBILITY_CHANGE_EXPIRING_SOON,
            resources_pb2.ELIGIBILITY_STATUS_EXPIRING_SOON,
        ),
        (events_pb2.ELIGIBILITY_CHANGE_EXPIRED, resources_pb2.ELIGIBILITY_STATUS_INELIGIBLE),
    ]
    expired = changes()[-1]
    assert expired.previous_status == resources_pb2.ELIGIBILITY_STATUS_EXPIRING_SOON
    assert [r.code for r in expired.reasons] == [
        resources_pb2.ELIGIBILITY_REASON_CODE_CERTIFICATION_EXPIRED
    ]
    assert expired.reasons[0].date == when(today + timedelta(days=60))
    assert expired.organization_id == org_id
    expiring = changes()[1]
    assert expiring.lapses_on == when(today + timedelta(days=60))
    # Nothing more is due: the change is announced once, however often the review runs.
    assert await running.application.review_due_supporters(100) == 0

    # The other facts about these people and the program reached Kafka too.
    await asyncio.to_thread(
        reader.read_until,
        lambda: (
            reader.of_type(org_id, events_pb2.OrganizationRegistered)
            and reader.of_type(supervisor.person_id, events_pb2.PersonRegistered)
        ),
    )
    (registered,) = reader.of_type(supporter.person_id, events_pb2.PersonRegistered)
    assert list(registered.roles) == [resources_pb2.ROLE_PEER_SUPPORTER]
    headers, _ = reader.by_key[key][0]
    assert headers["ce_source"] == "/peerbridge/identity"
    assert headers["ce_subject"] == key
    assert headers["content-type"] == "application/protobuf"
    assert "traceparent" in headers
    for _, message in reader.by_key[key]:
        assert b"Jordan (test)" not in message.SerializeToString()


async def test_start_up_creates_the_topics(running: IdentityProcess, kafka_bootstrap: str) -> None:
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)

    assert {TOPIC, f"{TOPIC}.dlt", "peerbridge.audit.v1"} <= set(metadata.topics)
