"""Audit entries, their event, and who/where taken from the call context."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from opentelemetry import trace

from peerbridge.audit.v1 import audit_events_pb2
from peerbridge_platform import tracing
from peerbridge_platform.audit import (
    AUDIT_TOPIC,
    Actor,
    AuditEntry,
    Origin,
    Outcome,
    PurposeOfUse,
    actor_from_context,
    audit_envelope,
    origin_from_context,
)
from peerbridge_platform.auth import Principal, Role, principal_context
from peerbridge_platform.envelope import decode, encode, unpack_proto
from peerbridge_platform.grpc import Caller, call_context

AT = datetime(2030, 5, 17, 9, 30, tzinfo=UTC)


def entry(**overrides: object) -> AuditEntry:
    values: dict[str, object] = {
        "audit_id": "5b0c7d2e-6a59-4a53-9d5c-2a8c9b1f0e11",
        "occurred_at": AT,
        "service": "referrals",
        "action": "referral.read",
        "resource_type": "referral",
        "resource_id": "ref-1",
        "subject_id": "member-1",
        "outcome": Outcome.ALLOWED,
        "purpose": PurposeOfUse.TREAT,
        "reason": None,
    }
    return AuditEntry(**(values | overrides))  # type: ignore[arg-type]


def test_topic_is_the_shared_audit_topic() -> None:
    assert AUDIT_TOPIC == "peerbridge.audit.v1"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("action", "read"),
        ("action", "Referral.Read"),
        ("resource_type", "Referral"),
        ("resource_id", ""),
        ("subject_id", "m" * 300),
        ("reason", "x" * 1001),
        ("purpose", "MARKETING"),
        ("outcome", "maybe"),
        ("occurred_at", datetime(2030, 1, 1)),  # naive on purpose
    ],
)
def test_call_site_mistakes_fail_loudly(field: str, value: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
        entry(**{field: value})


def test_plain_strings_become_codes() -> None:
    made = entry(purpose="HPAYMT", outcome="denied")
    assert made.purpose is PurposeOfUse.HPAYMT
    assert made.outcome is Outcome.DENIED


@pytest.mark.parametrize(
    ("subject_id", "resource_id", "key"),
    [("member-1", "ref-1", "member-1"), (None, "ref-1", "ref-1"), (None, None, "audit")],
)
def test_key_is_the_member_then_the_resource(
    subject_id: str | None, resource_id: str | None, key: str
) -> None:
    made = entry(subject_id=subject_id, resource_id=resource_id, audit_id="audit")
    assert made.key == key


def test_the_event_carries_the_whole_record() -> None:
    made = entry(
        outcome=Outcome.DENIED,
        reason="not matched to this member",
        actor=Actor("supporter-9", "app-1", "org-1", ("peer_supporter",)),
        origin=Origin("ipv4:10.0.0.7:5123", "req-1", "0af7651916cd43dd8448eb211c80319c"),
    )
    record = encode(audit_envelope(made))
    assert record.key == b"member-1"
    envelope = decode(record.headers, record.key, record.value)
    assert envelope.id == made.audit_id
    assert envelope.type == "peerbridge.audit.v1.AuditRecorded"
    assert envelope.source == "/peerbridge/referrals"
    assert envelope.time == AT
    event = unpack_proto(envelope, audit_events_pb2.AuditRecorded)
    assert event.outcome == audit_events_pb2.AUDIT_OUTCOME_DENIED
    assert event.purpose_of_use == "TREAT"
    assert event.actor.roles == ["peer_supporter"]
    assert event.origin.peer == "ipv4:10.0.0.7:5123"
    assert event.occur_time.ToDatetime(tzinfo=UTC) == AT
    assert event.reason == "not matched to this member"


def test_who_comes_from_the_verified_principal_first() -> None:
    principal = Principal(
        subject="clinician-42",
        roles=frozenset({Role.CLINICIAN, Role.COORDINATOR}),
        scopes=frozenset(),
        organization_id="org-clinic",
        client_id="ehr-1",
        token_id="t",
        expires_at=AT,
    )
    caller = Caller(principal="claims-to-be-admin", bearer_token="secret")
    with call_context(request_id="req-9", caller=caller):
        assert actor_from_context() == Actor(asserted_principal="claims-to-be-admin")
        with principal_context(principal, peer="ipv6:[::1]:4000"):
            assert actor_from_context() == Actor(
                "clinician-42", "ehr-1", "org-clinic", ("clinician", "coordinator")
            )
            origin = origin_from_context()
    assert origin.peer == "ipv6:[::1]:4000"
    assert origin.request_id == "req-9"
    assert actor_from_context() == Actor()


def test_where_includes_the_trace() -> None:
    tracing.install_tracer_provider()
    with trace.get_tracer("test").start_as_current_span("call") as span:
        origin = origin_from_context()
    assert origin.trace_id == format(span.get_span_context().trace_id, "032x")
