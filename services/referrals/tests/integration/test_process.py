"""The whole process against real PostgreSQL and Kafka: start, serve, publish, stop.

An EHR's view is checked with a plain confluent_kafka Consumer: CloudEvents
headers, the protobuf decoded by `ce_type`, the FHIR JSON validated.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import grpc
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from fhir.resources.R4B.bundle import Bundle
from grpc_health.v1 import health_pb2, health_pb2_grpc

from peerbridge.referrals.v1 import referrals_events_pb2
from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.grpc import create_channel, wait_for_serving
from peerbridge_referrals.entrypoints.app import ReferralsProcess
from peerbridge_referrals.entrypoints.grpc_server import SERVICE_NAME

from ..conftest import synthetic_principal
from .conftest import process_settings, token_for, trusted_keys

pytestmark = pytest.mark.integration

EVENTS_TOPIC = "peerbridge.referrals.events.v1"
FHIR_TOPIC = "peerbridge.referrals.fhir.v1"
EVENT_TYPES = {
    referrals_events_pb2.ReferralCreated.DESCRIPTOR.full_name: referrals_events_pb2.ReferralCreated
}
REASON = "Synthetic member asks to start treatment."
PATIENCE_S = 60.0


def synthetic_request(member: str) -> service_pb2.CreateReferralRequest:
    return service_pb2.CreateReferralRequest(
        request_id=str(uuid.uuid4()),
        subject_member_id=member,
        direction=resources_pb2.REFERRAL_DIRECTION_PEER_SUPPORT_TO_CLINIC,
        category=resources_pb2.REFERRAL_CATEGORY_MEDICATION_FOR_OPIOID_USE_DISORDER,
        priority=resources_pb2.REFERRAL_PRIORITY_STAT,
        reason=REASON,
        requester=resources_pb2.Party(
            kind=resources_pb2.PARTY_KIND_PEER_SUPPORT_PROGRAM,
            organization_id="program-it",
            display_name="IT Peer Program (test)",
        ),
        recipient=resources_pb2.Party(
            kind=resources_pb2.PARTY_KIND_CLINIC,
            organization_id="clinic-it",
            display_name="IT Clinic (test)",
        ),
    )


def collect(bootstrap: str, key: str, topics: tuple[str, ...]) -> dict[str, Any]:
    """Poll until a record with `key` arrived on every topic, or the deadline passes."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test.referrals.{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    found: dict[str, Any] = {}
    try:
        consumer.subscribe(list(topics))
        deadline = time.monotonic() + PATIENCE_S
        while set(found) != set(topics) and time.monotonic() < deadline:
            message = consumer.poll(0.25)
            if message is None or message.error() is not None:
                continue
            if (message.key() or b"").decode() == key:
                found[str(message.topic())] = message
    finally:
        consumer.close()
    return found


def headers_of(message: Any) -> dict[str, str]:
    return {name: (value or b"").decode() for name, value in message.headers() or []}


async def test_the_process_serves_and_publishes_what_an_ehr_reads(
    running: ReferralsProcess, kafka_bootstrap: str
) -> None:
    assert running.server is not None
    address = running.server.address
    await wait_for_serving(address, SERVICE_NAME, timeout_s=PATIENCE_S)
    channel = create_channel(address, default_timeout_s=10)
    async with channel:
        stub: Any = service_grpc.ReferralsServiceStub(channel)
        response = await stub.CreateReferral(
            synthetic_request(f"member-{uuid.uuid4().hex[:8]}"),
            metadata=(
                (
                    "authorization",
                    f"Bearer {token_for(synthetic_principal(organization_id='program-it'))}",
                ),
            ),
        )
    referral = response.referral

    received = await asyncio.to_thread(
        collect, kafka_bootstrap, referral.referral_id, (EVENTS_TOPIC, FHIR_TOPIC)
    )

    assert set(received) == {EVENTS_TOPIC, FHIR_TOPIC}
    event, view = received[EVENTS_TOPIC], received[FHIR_TOPIC]
    event_headers, view_headers = headers_of(event), headers_of(view)
    assert event_headers["ce_specversion"] == "1.0"
    assert event_headers["ce_source"] == "/peerbridge/referrals"
    assert event_headers["ce_subject"] == referral.referral_id
    assert event_headers["content-type"] == "application/protobuf"
    assert "traceparent" in event_headers
    decoded = EVENT_TYPES[event_headers["ce_type"]].FromString(event.value())
    assert decoded.referral_id == referral.referral_id
    assert decoded.subject_member_id == referral.subject_member_id
    assert decoded.priority == resources_pb2.REFERRAL_PRIORITY_STAT
    assert REASON.encode() not in event.value()

    assert view_headers["content-type"].startswith("application/fhir+json")
    assert view_headers["ce_recipientorganization"] == "clinic-it"
    bundle: Any = Bundle.model_validate_json(view.value())
    resources = {e.resource.get_resource_type(): e.resource for e in bundle.entry}
    task, request = resources["Task"], resources["ServiceRequest"]
    assert (task.status, task.intent, task.priority) == ("requested", "order", "stat")
    assert (request.status, request.intent) == ("active", "order")
    assert task.focus.reference.endswith(request.id)
    assert {c.code for c in task.meta.security} >= {"R", "42CFRPart2", "ETH", "NORDSCLCD"}
    assert REASON not in json.dumps(json.loads(view.value()))


async def test_start_up_creates_the_topics(running: ReferralsProcess, kafka_bootstrap: str) -> None:
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)

    assert {
        EVENTS_TOPIC,
        FHIR_TOPIC,
        "peerbridge.audit.v1",
        "peerbridge.referrals.events.v1.dlt",
    } <= set(metadata.topics)


async def test_stopping_says_not_serving_then_closes(
    database_url: str, kafka_bootstrap: str, encryption_keys: str
) -> None:
    settings = process_settings(database_url, kafka_bootstrap, encryption_keys, grace_s=1.0)
    process = ReferralsProcess(settings, jwks_source=trusted_keys())
    await process.start()
    assert process.server is not None
    address = process.server.address
    await wait_for_serving(address, SERVICE_NAME, timeout_s=PATIENCE_S)

    await process.stop()

    async with grpc.aio.insecure_channel(address) as channel:
        health: Any = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=2)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
