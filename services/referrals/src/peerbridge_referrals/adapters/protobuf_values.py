"""Domain values ⇄ protobuf enums and messages of `peerbridge.referrals.v1`.

A domain member `X` is the proto value `<PREFIX>X`; matching by name keeps
the two lists honest (a unit test checks that every value has its partner).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.timestamp_pb2 import Timestamp

from peerbridge.referrals.v1 import referrals_consent_pb2 as consent_pb2
from peerbridge.referrals.v1 import referrals_crisis_pb2 as crisis_pb2
from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.sessions.v1 import sessions_events_pb2 as sessions_pb2

from ..domain.consent import (
    CaptureMethod,
    ConsentPurpose,
    ConsentStatus,
    InformationCategory,
    RecipientClass,
)
from ..domain.crisis import FlagStatus, RiskFlagSource, RiskKind, RiskLevel, Route
from ..domain.model import Referral
from ..domain.values import (
    Category,
    Direction,
    Party,
    PartyKind,
    Priority,
    Status,
    StatusReasonCategory,
)

# Each domain enum, its protobuf enum and the prefix of the protobuf value names.
PROTO_ENUMS: dict[type[StrEnum], tuple[EnumDescriptor, str]] = {
    Direction: (resources_pb2.ReferralDirection.DESCRIPTOR, "REFERRAL_DIRECTION_"),
    Category: (resources_pb2.ReferralCategory.DESCRIPTOR, "REFERRAL_CATEGORY_"),
    Priority: (resources_pb2.ReferralPriority.DESCRIPTOR, "REFERRAL_PRIORITY_"),
    Status: (resources_pb2.ReferralStatus.DESCRIPTOR, "REFERRAL_STATUS_"),
    PartyKind: (resources_pb2.PartyKind.DESCRIPTOR, "PARTY_KIND_"),
    StatusReasonCategory: (
        resources_pb2.ReferralStatusReasonCategory.DESCRIPTOR,
        "REFERRAL_STATUS_REASON_CATEGORY_",
    ),
    InformationCategory: (
        consent_pb2.ConsentInformationCategory.DESCRIPTOR,
        "CONSENT_INFORMATION_CATEGORY_",
    ),
    ConsentPurpose: (consent_pb2.ConsentPurpose.DESCRIPTOR, "CONSENT_PURPOSE_"),
    RecipientClass: (consent_pb2.ConsentRecipientClass.DESCRIPTOR, "CONSENT_RECIPIENT_CLASS_"),
    CaptureMethod: (consent_pb2.ConsentCaptureMethod.DESCRIPTOR, "CONSENT_CAPTURE_METHOD_"),
    ConsentStatus: (consent_pb2.ConsentStatus.DESCRIPTOR, "CONSENT_STATUS_"),
    # Crisis escalation reuses the sessions service's risk enums (its RiskFlagRaised contract).
    RiskLevel: (sessions_pb2.RiskLevel.DESCRIPTOR, "RISK_LEVEL_"),
    RiskKind: (sessions_pb2.RiskKind.DESCRIPTOR, "RISK_KIND_"),
    RiskFlagSource: (sessions_pb2.RiskFlagSource.DESCRIPTOR, "RISK_FLAG_SOURCE_"),
    Route: (crisis_pb2.RiskFlagRoute.DESCRIPTOR, "RISK_FLAG_ROUTE_"),
    FlagStatus: (crisis_pb2.RiskFlagStatus.DESCRIPTOR, "RISK_FLAG_STATUS_"),
}


def proto_name(value: StrEnum) -> str:
    return PROTO_ENUMS[type(value)][1] + value.name


def proto_number(value: StrEnum) -> Any:
    """The protobuf number of a domain value, for any enum of `PROTO_ENUMS` (typed Any: it
    fits whichever enum field the value belongs in)."""
    descriptor, _ = PROTO_ENUMS[type(value)]
    return descriptor.values_by_name[proto_name(value)].number


def direction_to_proto(value: Direction) -> resources_pb2.ReferralDirection.ValueType:
    return resources_pb2.ReferralDirection.Value(proto_name(value))


def category_to_proto(value: Category) -> resources_pb2.ReferralCategory.ValueType:
    return resources_pb2.ReferralCategory.Value(proto_name(value))


def priority_to_proto(value: Priority) -> resources_pb2.ReferralPriority.ValueType:
    return resources_pb2.ReferralPriority.Value(proto_name(value))


def status_to_proto(value: Status) -> resources_pb2.ReferralStatus.ValueType:
    return resources_pb2.ReferralStatus.Value(proto_name(value))


def party_kind_to_proto(value: PartyKind) -> resources_pb2.PartyKind.ValueType:
    return resources_pb2.PartyKind.Value(proto_name(value))


def reason_category_to_proto(
    value: StatusReasonCategory | None,
) -> resources_pb2.ReferralStatusReasonCategory.ValueType:
    """UNSPECIFIED for None: no category was given."""
    if value is None:
        return resources_pb2.REFERRAL_STATUS_REASON_CATEGORY_UNSPECIFIED
    return resources_pb2.ReferralStatusReasonCategory.Value(proto_name(value))


def value_name_from_proto(enum: type[StrEnum], number: int) -> str:
    """The domain value's name for a proto number: "" when unset, the number when unknown.

    Checking is the domain's job; this only translates, so the domain can
    report an unset or unknown value like any other bad field.
    """
    if number == 0:
        return ""
    descriptor, prefix = PROTO_ENUMS[enum]
    proto_value = descriptor.values_by_number.get(number)
    if proto_value is None:
        return str(number)
    member = enum.__members__.get(proto_value.name.removeprefix(prefix))
    return member.value if member is not None else str(number)


def to_timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def to_proto_party(party: Party) -> resources_pb2.Party:
    message = resources_pb2.Party(
        kind=party_kind_to_proto(party.kind),
        organization_id=party.organization_id,
        display_name=party.display_name,
    )
    if party.practitioner_id is not None:
        message.practitioner_id = party.practitioner_id
    return message


def to_proto_referral(referral: Referral) -> resources_pb2.Referral:
    return resources_pb2.Referral(
        referral_id=str(referral.referral_id),
        subject_member_id=referral.subject_member_id,
        direction=direction_to_proto(referral.direction),
        category=category_to_proto(referral.category),
        priority=priority_to_proto(referral.priority),
        reason=referral.reason,
        requester=to_proto_party(referral.requester),
        recipient=to_proto_party(referral.recipient),
        status=status_to_proto(referral.status),
        create_time=to_timestamp(referral.create_time),
        update_time=to_timestamp(referral.update_time),
        version=referral.version,
        status_reason=referral.status_reason or "",
        status_reason_category=reason_category_to_proto(referral.status_reason_category),
        outcome=referral.outcome or "",
    )
