"""The risk flag contract (sessions, consumed by referrals for crisis escalation): codes and
ids only, so a flag can travel without what the member said."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor

from peerbridge.sessions.v1 import sessions_events_pb2

IDS = {"flag_id", "member_id", "program_id", "raised_by"}


def test_a_risk_flag_carries_codes_ids_and_a_time_only() -> None:
    fields = sessions_events_pb2.RiskFlagRaised.DESCRIPTOR.fields
    strings = {f.name for f in fields if f.type == FieldDescriptor.TYPE_STRING}
    enums = {f.name for f in fields if f.type == FieldDescriptor.TYPE_ENUM}

    assert strings == IDS
    assert enums == {"level", "kind", "source"}
    assert {f.name for f in fields} == IDS | enums | {"raise_time"}


def test_every_code_list_starts_with_an_invalid_unspecified() -> None:
    for enum in (
        sessions_events_pb2.RiskLevel,
        sessions_events_pb2.RiskKind,
        sessions_events_pb2.RiskFlagSource,
    ):
        assert enum.Name(0).endswith("_UNSPECIFIED")
        assert len(enum.keys()) > 1
