"""Value types of a referral.

Enum values are the lower-case names the gateway's JSON uses and the
database stores; member names match the protobuf enums without their prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    PEER_SUPPORT_TO_CLINIC = "peer_support_to_clinic"
    CLINIC_TO_PEER_SUPPORT = "clinic_to_peer_support"


class Category(StrEnum):
    MEDICATION_FOR_OPIOID_USE_DISORDER = "medication_for_opioid_use_disorder"
    MEDICATION_FOR_ALCOHOL_USE_DISORDER = "medication_for_alcohol_use_disorder"
    DETOX = "detox"
    INPATIENT_TREATMENT = "inpatient_treatment"
    MENTAL_HEALTH_COUNSELLING = "mental_health_counselling"
    PRIMARY_CARE = "primary_care"
    HOUSING = "housing"
    SOCIAL_NEEDS = "social_needs"
    CRISIS_CARE = "crisis_care"
    PEER_SUPPORT = "peer_support"


class Priority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


class Status(StrEnum):
    DRAFT = "draft"
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    FAILED = "failed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered_in_error"


class StatusReasonCategory(StrEnum):
    """Why a referral has its status, as a code: events carry this, never the free text."""

    MEMBER_DECLINED = "member_declined"
    MEMBER_UNREACHABLE = "member_unreachable"
    NOT_ELIGIBLE = "not_eligible"
    NO_CAPACITY = "no_capacity"
    SERVICE_NOT_OFFERED = "service_not_offered"
    OTHER = "other"


class PartyKind(StrEnum):
    PEER_SUPPORT_PROGRAM = "peer_support_program"
    CLINIC = "clinic"


# Who must send and who must receive, for each direction.
PARTY_KINDS_FOR_DIRECTION: dict[Direction, tuple[PartyKind, PartyKind]] = {
    Direction.PEER_SUPPORT_TO_CLINIC: (PartyKind.PEER_SUPPORT_PROGRAM, PartyKind.CLINIC),
    Direction.CLINIC_TO_PEER_SUPPORT: (PartyKind.CLINIC, PartyKind.PEER_SUPPORT_PROGRAM),
}


@dataclass(frozen=True)
class Party:
    """An organization that sends or receives a referral, with an optional contact person."""

    kind: PartyKind
    organization_id: str
    display_name: str
    practitioner_id: str | None = None
