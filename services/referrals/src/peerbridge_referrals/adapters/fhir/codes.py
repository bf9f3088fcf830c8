"""Code systems, identifier systems and the value maps of the FHIR view."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ...domain.values import Category, Priority, Status, StatusReasonCategory

MEMBER_SYSTEM = "urn:peerbridge:member"
ORGANIZATION_SYSTEM = "urn:peerbridge:organization"
REFERRAL_SYSTEM = "urn:peerbridge:referral"
CATEGORY_SYSTEM = "urn:peerbridge:codesystem:referral-category"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
STATUS_REASON_SYSTEM = "urn:peerbridge:codesystem:referral-status-reason"
TASK_OUTPUT_SYSTEM = "urn:peerbridge:codesystem:referral-output"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

# HL7 DS4P labels for 42 CFR Part 2 data: restricted confidentiality, the
# Part 2 policy, substance-use sensitivity, and the no-redisclosure obligation.
PART2_SECURITY_LABELS: tuple[dict[str, Any], ...] = (
    {"system": CONFIDENTIALITY_SYSTEM, "code": "R", "display": "restricted"},
    {"system": ACT_CODE_SYSTEM, "code": "42CFRPart2", "display": "42 CFR Part2"},
    {
        "system": ACT_CODE_SYSTEM,
        "code": "ETH",
        "display": "substance abuse information sensitivity",
    },
    {
        "system": ACT_CODE_SYSTEM,
        "code": "NORDSCLCD",
        "display": "no redisclosure without consent directive",
    },
)

# FHIR Task.status codes (the Gravity referral workflow uses all of them).
TASK_STATUS: dict[Status, str] = {
    Status.DRAFT: "draft",
    Status.REQUESTED: "requested",
    Status.ACCEPTED: "accepted",
    Status.REJECTED: "rejected",
    Status.IN_PROGRESS: "in-progress",
    Status.ON_HOLD: "on-hold",
    Status.FAILED: "failed",
    Status.COMPLETED: "completed",
    Status.CANCELLED: "cancelled",
    Status.ENTERED_IN_ERROR: "entered-in-error",
}

# FHIR request-status for the ServiceRequest. One referral has one recipient,
# so a request that recipient refused or could not fulfil is over (revoked).
SERVICE_REQUEST_STATUS: dict[Status, str] = {
    Status.DRAFT: "draft",
    Status.REQUESTED: "active",
    Status.ACCEPTED: "active",
    Status.IN_PROGRESS: "active",
    Status.ON_HOLD: "on-hold",
    Status.REJECTED: "revoked",
    Status.FAILED: "revoked",
    Status.CANCELLED: "revoked",
    Status.COMPLETED: "completed",
    Status.ENTERED_IN_ERROR: "entered-in-error",
}

# FHIR request-priority codes: ours are the same four.
REQUEST_PRIORITY: dict[Priority, str] = {
    Priority.ROUTINE: "routine",
    Priority.URGENT: "urgent",
    Priority.ASAP: "asap",
    Priority.STAT: "stat",
}

CATEGORY_DISPLAY: dict[Category, str] = {
    Category.MEDICATION_FOR_OPIOID_USE_DISORDER: "Medication for opioid use disorder",
    Category.MEDICATION_FOR_ALCOHOL_USE_DISORDER: "Medication for alcohol use disorder",
    Category.DETOX: "Medically managed withdrawal",
    Category.INPATIENT_TREATMENT: "Residential or inpatient treatment",
    Category.MENTAL_HEALTH_COUNSELLING: "Mental health counselling",
    Category.PRIMARY_CARE: "Primary care",
    Category.HOUSING: "Housing support",
    Category.SOCIAL_NEEDS: "Social needs support",
    Category.CRISIS_CARE: "Crisis care",
    Category.PEER_SUPPORT: "Peer recovery support",
}


def category_code(category: Category) -> str:
    return kebab(category)


STATUS_REASON_DISPLAY: dict[StatusReasonCategory, str] = {
    StatusReasonCategory.MEMBER_DECLINED: "Member declined",
    StatusReasonCategory.MEMBER_UNREACHABLE: "Member could not be reached",
    StatusReasonCategory.NOT_ELIGIBLE: "Not eligible",
    StatusReasonCategory.NO_CAPACITY: "No capacity",
    StatusReasonCategory.SERVICE_NOT_OFFERED: "Service not offered",
    StatusReasonCategory.OTHER: "Other",
}


def kebab(value: Category | StatusReasonCategory) -> str:
    """The code in our code systems: the value's name in kebab case."""
    return value.value.replace("_", "-")


def fhir_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
