"""What a created referral sends out: a protobuf event and the FHIR view, as CloudEvents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID

import pytest
from fhir.resources.R4B.bundle import Bundle
from opentelemetry import trace

from peerbridge.referrals.v1 import referrals_events_pb2, referrals_resources_pb2
from peerbridge_platform import tracing
from peerbridge_platform.envelope import decode, encode, unpack_proto
from peerbridge_referrals.adapters.integration_events import (
    EVENTS_TOPIC,
    FHIR_TOPIC,
    messages_for,
)
from peerbridge_referrals.domain.commands import CreateReferral
from peerbridge_referrals.domain.events import DomainEvent, ReferralCreated
from peerbridge_referrals.domain.model import Referral, open_referral
from peerbridge_referrals.domain.rules import validate_new_referral

CREATED = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def created(create_command: CreateReferral) -> ReferralCreated:
    _, event = open_referral(
        validate_new_referral(create_command),
        referral_id=UUID("6f1d3c1e-8a7b-4f55-9d0e-2b9a4c7e1f00"),
        request_id=create_command.request_id,
        now=CREATED,
    )
    return event


def test_a_created_referral_goes_to_the_events_and_the_fhir_topic(
    created: ReferralCreated,
) -> None:
    assert [m.topic for m in messages_for(created)] == [EVENTS_TOPIC, FHIR_TOPIC]


def test_the_event_is_a_binary_mode_cloudevent_keyed_by_referral(
    created: ReferralCreated,
) -> None:
    event = messages_for(created)[0].envelope
    record = encode(event)
    headers = {name: (value or b"").decode() for name, value in record.headers}

    assert record.key == b"6f1d3c1e-8a7b-4f55-9d0e-2b9a4c7e1f00"
    assert headers["ce_type"] == "peerbridge.referrals.v1.ReferralCreated"
    assert headers["ce_source"] == "/peerbridge/referrals"
    assert headers["ce_subject"] == "6f1d3c1e-8a7b-4f55-9d0e-2b9a4c7e1f00"
    assert headers["ce_specversion"] == "1.0"
    assert headers["content-type"] == "application/protobuf"
    assert headers["ce_recipientorganization"] == "clinic-northside-test"
    assert decode(record.headers, record.key, record.value) == event


def test_the_event_carries_the_referral_but_not_its_reason(
    created: ReferralCreated, create_command: CreateReferral
) -> None:
    envelope = messages_for(created)[0].envelope
    message = unpack_proto(envelope, referrals_events_pb2.ReferralCreated)
    referral: Referral = created.referral

    assert message.referral_id == str(referral.referral_id)
    assert message.subject_member_id == "member-synthetic-001"
    assert message.direction == referrals_resources_pb2.REFERRAL_DIRECTION_PEER_SUPPORT_TO_CLINIC
    assert (
        message.category
        == referrals_resources_pb2.REFERRAL_CATEGORY_MEDICATION_FOR_OPIOID_USE_DISORDER
    )
    assert message.priority == referrals_resources_pb2.REFERRAL_PRIORITY_URGENT
    assert message.status == referrals_resources_pb2.REFERRAL_STATUS_REQUESTED
    assert message.requester.kind == referrals_resources_pb2.PARTY_KIND_PEER_SUPPORT_PROGRAM
    assert message.requester.practitioner_id == "supporter-test-7"
    assert message.recipient.organization_id == "clinic-northside-test"
    assert not message.recipient.HasField("practitioner_id")
    assert message.create_time.ToDatetime(tzinfo=UTC) == CREATED
    assert message.version == 1
    assert create_command.reason.encode() not in envelope.data
    assert envelope.time == CREATED


def test_the_fhir_view_is_fhir_json_with_the_recipient_as_an_extension(
    created: ReferralCreated, create_command: CreateReferral
) -> None:
    envelope = messages_for(created)[1].envelope
    record = encode(envelope)
    headers = {name: (value or b"").decode() for name, value in record.headers}

    assert headers["content-type"].startswith("application/fhir+json")
    assert headers["ce_recipientorganization"] == "clinic-northside-test"
    assert record.key == str(created.referral.referral_id).encode()
    bundle = Bundle.model_validate_json(envelope.data)
    assert bundle.type == "collection"
    assert create_command.reason not in json.dumps(json.loads(envelope.data))


def test_the_current_trace_travels_with_both_records(created: ReferralCreated) -> None:
    tracing.install_tracer_provider()
    with trace.get_tracer("test").start_as_current_span("create") as span:
        messages = messages_for(created)
    trace_id = format(span.get_span_context().trace_id, "032x")

    for message in messages:
        assert message.envelope.traceparent is not None
        assert trace_id in message.envelope.traceparent


def test_each_record_gets_its_own_event_id(created: ReferralCreated) -> None:
    ids = [m.envelope.id for m in messages_for(created) + messages_for(created)]

    assert len(set(ids)) == 4


def test_an_unknown_domain_event_is_refused_loudly() -> None:
    with pytest.raises(TypeError):
        messages_for(DomainEvent())
