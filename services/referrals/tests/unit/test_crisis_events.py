"""What a risk flag sends out: RiskFlagEscalated and RiskFlagAcknowledged on the events
topic, keyed by the flag id, codes and ids only; and the flag as the gRPC answer shows it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from peerbridge.referrals.v1 import referrals_crisis_pb2 as crisis_pb2
from peerbridge.sessions.v1 import sessions_events_pb2 as sessions_pb2
from peerbridge_platform.envelope import encode
from peerbridge_referrals.adapters.crisis_protobuf import to_proto_flag, to_proto_guidance
from peerbridge_referrals.adapters.integration_events import EVENTS_TOPIC, messages_for
from peerbridge_referrals.domain.crisis import (
    FlagDetails,
    RiskFlag,
    RiskFlagAcknowledged,
    RiskFlagEscalated,
    RiskFlagSource,
    RiskKind,
    RiskLevel,
    Route,
    acknowledge,
)

RAISED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
FLAG = RiskFlag(
    flag_id=UUID("0b6c1f3e-2a7d-4e55-8d0e-2b9a4c7e1f01"),
    request_id=None,
    details=FlagDetails(
        "member-synthetic-001",
        "program-harbour-test",
        RiskLevel.IMMINENT,
        RiskKind.OVERDOSE,
        RiskFlagSource.CHECK_IN,
    ),
    raised_by="member-synthetic-001",
    raise_time=RAISED,
    route=Route.CLINICAL_CONTACT,
    referral_id=UUID("6f1d3c1e-8a7b-4f55-9d0e-2b9a4c7e1f00"),
    clinic_organization_id="clinic-northside-test",
)


def test_an_escalation_is_one_event_keyed_by_the_flag() -> None:
    [message] = messages_for(RiskFlagEscalated(FLAG))
    record = encode(message.envelope)
    headers = {name: (value or b"").decode() for name, value in record.headers}
    assert message.topic == EVENTS_TOPIC
    assert record.key == str(FLAG.flag_id).encode()
    assert headers["ce_type"] == "peerbridge.referrals.v1.RiskFlagEscalated"
    event = crisis_pb2.RiskFlagEscalated.FromString(record.value or b"")
    assert event.route == crisis_pb2.RISK_FLAG_ROUTE_CLINICAL_CONTACT
    assert event.level == sessions_pb2.RISK_LEVEL_IMMINENT
    assert event.kind == sessions_pb2.RISK_KIND_OVERDOSE
    assert event.source == sessions_pb2.RISK_FLAG_SOURCE_CHECK_IN
    assert event.referral_id == str(FLAG.referral_id)
    assert event.assigned_supervisor_id == ""


def test_an_acknowledgement_names_who_and_when() -> None:
    handled = acknowledge(FLAG, by="supervisor-test-1", now=RAISED + timedelta(minutes=4))
    [message] = messages_for(RiskFlagAcknowledged(handled))
    record = encode(message.envelope)
    event = crisis_pb2.RiskFlagAcknowledged.FromString(record.value or b"")
    assert record.key == str(FLAG.flag_id).encode()
    assert event.acknowledged_by == "supervisor-test-1"
    assert event.acknowledge_time.ToDatetime(tzinfo=UTC) == RAISED + timedelta(minutes=4)


def test_the_answer_shows_the_route_and_the_guidance() -> None:
    assigned = replace(
        FLAG,
        route=Route.ON_CALL_SUPERVISOR,
        referral_id=None,
        clinic_organization_id=None,
        assigned_supervisor_id="supervisor-test-1",
    )
    message = to_proto_flag(assigned)
    assert message.route == crisis_pb2.RISK_FLAG_ROUTE_ON_CALL_SUPERVISOR
    assert message.status == crisis_pb2.RISK_FLAG_STATUS_UNHANDLED
    assert message.referral_id == ""
    assert not message.HasField("acknowledge_time")
    guidance = to_proto_guidance()
    assert (guidance.call_number, guidance.emergency_number) == ("988", "911")
