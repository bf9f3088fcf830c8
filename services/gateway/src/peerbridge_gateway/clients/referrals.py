"""The referrals port: what the gateway asks of the referrals service, in its own types.

Enum values are the lower-case codes of the HTTP API (statuses are FHIR Task
codes); member names match the protobuf enums without their prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from peerbridge_platform.grpc import Caller


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
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    FAILED = "failed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered-in-error"


class StatusReasonCategory(StrEnum):
    MEMBER_DECLINED = "member_declined"
    MEMBER_UNREACHABLE = "member_unreachable"
    NOT_ELIGIBLE = "not_eligible"
    NO_CAPACITY = "no_capacity"
    SERVICE_NOT_OFFERED = "service_not_offered"
    OTHER = "other"


class PartyKind(StrEnum):
    PEER_SUPPORT_PROGRAM = "peer_support_program"
    CLINIC = "clinic"


@dataclass(frozen=True)
class Party:
    kind: PartyKind
    organization_id: str
    display_name: str
    practitioner_id: str | None = None


@dataclass(frozen=True)
class NewReferral:
    subject_member_id: str
    direction: Direction
    category: Category
    priority: Priority
    reason: str
    requester: Party
    recipient: Party


class ReadView(StrEnum):
    FULL = "full"
    REDACTED = "redacted"


@dataclass(frozen=True)
class ReadDisclosure:
    """What a read returned of a referral and why (empty for reads that disclose nothing)."""

    view: ReadView
    reason: str = ""


@dataclass(frozen=True)
class Referral:
    referral_id: str
    subject_member_id: str
    direction: Direction
    # None when withheld from a redacted read: it tells what the member is referred for.
    category: Category | None
    priority: Priority
    reason: str
    requester: Party
    recipient: Party
    status: Status
    created_at: datetime
    updated_at: datetime
    version: int
    # Why the referral has its status (FHIR Task statusReason), and its outcome (Task.output).
    status_reason: str | None = None
    status_reason_category: StatusReasonCategory | None = None
    outcome: str | None = None
    # Set on reads: a read by the recipient organization is gated by the member's consent.
    disclosure: ReadDisclosure | None = None


@dataclass(frozen=True)
class StatusChange:
    referral_id: str
    status: Status
    reason: str | None = None
    reason_category: StatusReasonCategory | None = None
    outcome: str | None = None
    # The version the caller read; None skips the check.
    expected_version: int | None = None


@dataclass(frozen=True)
class ReferralQuery:
    limit: int
    cursor: str | None = None
    subject_member_id: str | None = None
    status: Status | None = None


@dataclass(frozen=True)
class ReferralPage:
    items: list[Referral]
    next_cursor: str | None


class ReferralsClient(Protocol):
    """The referrals service as the gateway uses it.

    Failures raise `ServiceError`; `check_serving` raises `NotServing` or `ServiceError`.
    """

    async def create_referral(
        self, new: NewReferral, *, caller: Caller, idempotency_key: str | None
    ) -> Referral:
        """Create a referral; one `idempotency_key` of one caller always yields the same one."""
        ...

    async def get_referral(self, referral_id: str, *, caller: Caller) -> Referral: ...

    async def list_referrals(self, query: ReferralQuery, *, caller: Caller) -> ReferralPage: ...

    async def update_status(self, change: StatusChange, *, caller: Caller) -> Referral:
        """Move the referral to `change.status`; the service decides who may, and from where."""
        ...

    async def check_serving(self) -> None: ...
