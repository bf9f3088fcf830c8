"""The JSON models of referrals and their translation to and from protobuf."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import grpc
import pytest
from pydantic import ValidationError

from peerbridge.referrals.v1 import referrals_resources_pb2 as pb
from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_gateway.clients.referrals import (
    Category,
    Direction,
    PartyKind,
    Priority,
    Status,
)
from peerbridge_gateway.clients.referrals_grpc import EnumCodec, referral_from_proto
from peerbridge_gateway.schemas.referrals import ReferralIn, ReferralListQuery, ReferralOut

ReferralBody = Callable[..., dict[str, Any]]

CODECS = [
    (Direction, pb.ReferralDirection, "REFERRAL_DIRECTION_"),
    (Category, pb.ReferralCategory, "REFERRAL_CATEGORY_"),
    (Priority, pb.ReferralPriority, "REFERRAL_PRIORITY_"),
    (Status, pb.ReferralStatus, "REFERRAL_STATUS_"),
    (PartyKind, pb.PartyKind, "PARTY_KIND_"),
]


@pytest.mark.parametrize(("enum", "proto", "prefix"), CODECS)
def test_every_protobuf_value_but_unspecified_has_one_json_code(
    enum: type[StrEnum], proto: Any, prefix: str
) -> None:
    codec: EnumCodec[StrEnum] = EnumCodec(enum, proto, prefix)
    numbers = {v.number for v in proto.DESCRIPTOR.values if v.number != 0}
    assert {codec.to_proto(member) for member in enum} == numbers
    for member in enum:
        assert codec.from_proto(codec.to_proto(member)) is member
    with pytest.raises(ServiceError) as raised:
        codec.from_proto(0)
    assert raised.value.code is grpc.StatusCode.UNKNOWN


def test_statuses_are_fhir_task_codes() -> None:
    assert {s.value for s in Status} == {
        "draft",
        "requested",
        "accepted",
        "rejected",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "cancelled",
        "entered-in-error",
    }


def test_a_valid_body_becomes_a_new_referral(referral_body: ReferralBody) -> None:
    new = ReferralIn.model_validate(referral_body(member="member-ava")).to_port()
    assert new.subject_member_id == "member-ava"
    assert new.priority is Priority.URGENT
    assert new.requester.kind is PartyKind.PEER_SUPPORT_PROGRAM
    assert new.recipient.practitioner_id is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"nickname": "Ava"}, ("nickname",)),
        ({"priority": "whenever"}, ("priority",)),
        ({"priority": "URGENT"}, ("priority",)),
        ({"subject_member_id": ""}, ("subject_member_id",)),
        ({"subject_member_id": 42}, ("subject_member_id",)),
        ({"requester": {"kind": "clinic"}}, ("requester", "organization_id")),
    ],
)
def test_bad_bodies_are_refused_field_by_field(
    referral_body: ReferralBody, change: dict[str, object], field: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as raised:
        ReferralIn.model_validate(referral_body(**change))
    assert field in [tuple(e["loc"]) for e in raised.value.errors()]


def test_a_missing_field_is_refused(referral_body: ReferralBody) -> None:
    body = referral_body()
    del body["reason"]
    with pytest.raises(ValidationError):
        ReferralIn.model_validate(body)


def test_list_query_limits_and_unknown_parameters() -> None:
    assert ReferralListQuery().limit == 20
    for bad in ({"limit": 0}, {"limit": 101}, {"status": "in_progress"}, {"page": 2}):
        with pytest.raises(ValidationError):
            ReferralListQuery.model_validate(bad)
    assert ReferralListQuery.model_validate({"status": "in-progress"}).status is Status.IN_PROGRESS


def test_a_protobuf_referral_becomes_json_with_iso_timestamps() -> None:
    message = pb.Referral(
        referral_id="0b8e7f0e-2f55-4a36-9d36-2f1f0b0f2a11",
        subject_member_id="member-ben",
        direction=pb.REFERRAL_DIRECTION_CLINIC_TO_PEER_SUPPORT,
        category=pb.REFERRAL_CATEGORY_PEER_SUPPORT,
        priority=pb.REFERRAL_PRIORITY_ROUTINE,
        reason="Discharged; wants a peer supporter.",
        requester=pb.Party(
            kind=pb.PARTY_KIND_CLINIC,
            organization_id="clinic-1",
            display_name="Clinic",
            practitioner_id="dr-synthetic",
        ),
        recipient=pb.Party(
            kind=pb.PARTY_KIND_PEER_SUPPORT_PROGRAM, organization_id="prog-1", display_name="P"
        ),
        status=pb.REFERRAL_STATUS_IN_PROGRESS,
        version=3,
    )
    message.create_time.FromDatetime(datetime(2026, 3, 1, 12, 30, tzinfo=UTC))
    message.update_time.FromDatetime(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    out = ReferralOut.from_port(referral_from_proto(message)).model_dump(mode="json")
    assert out["status"] == "in-progress"
    assert out["direction"] == "clinic_to_peer_support"
    assert out["created_at"] == "2026-03-01T12:30:00Z"
    assert out["requester"]["practitioner_id"] == "dr-synthetic"
    assert out["recipient"]["practitioner_id"] is None
    assert out["version"] == 3
