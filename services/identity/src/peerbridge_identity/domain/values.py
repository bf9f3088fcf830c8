"""Value types of the identity domain.

Enum values are the lower-case names the database stores and the gateway's
JSON will use; member names match the protobuf enums without their prefix.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    MEMBER = "member"
    PEER_SUPPORTER = "peer_supporter"
    CLINICIAN = "clinician"
    COORDINATOR = "coordinator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class OrganizationKind(StrEnum):
    PEER_SUPPORT_PROGRAM = "peer_support_program"
    CLINIC = "clinic"


# Staff roles belong to an organization of one kind; the others need none.
ORGANIZATION_KIND_FOR_ROLE: dict[Role, OrganizationKind] = {
    Role.PEER_SUPPORTER: OrganizationKind.PEER_SUPPORT_PROGRAM,
    Role.COORDINATOR: OrganizationKind.PEER_SUPPORT_PROGRAM,
    Role.SUPERVISOR: OrganizationKind.PEER_SUPPORT_PROGRAM,
    Role.CLINICIAN: OrganizationKind.CLINIC,
}

# Who may record that a certification was checked.
VERIFIER_ROLES = frozenset({Role.SUPERVISOR, Role.COORDINATOR, Role.ADMIN})


class ContactPreference(StrEnum):
    IN_APP = "in_app"
    SMS = "sms"
    EMAIL = "email"
    PHONE_CALL = "phone_call"
    NO_CONTACT = "no_contact"


class AgeBand(StrEnum):
    # Adults only: the platform does not enrol minors, whose consent rules differ.
    B18_TO_24 = "18_to_24"
    B25_TO_34 = "25_to_34"
    B35_TO_44 = "35_to_44"
    B45_TO_54 = "45_to_54"
    B55_TO_64 = "55_to_64"
    B65_OR_OLDER = "65_or_older"


class ClientKind(StrEnum):
    APP = "app"
    EHR_INTEGRATION = "ehr_integration"


class StandardModule(StrEnum):
    """Training modules every program knows; programs may define more by code."""

    ETHICS = "ethics"
    CONFIDENTIALITY = "confidentiality"
    COMMUNICATION_SKILLS = "communication_skills"
    CRISIS_MANAGEMENT = "crisis_management"
    BOUNDARIES = "boundaries"


class VerificationStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class VerificationDecision(StrEnum):
    VERIFIED = "verified"
    REJECTED = "rejected"


class EligibilityStatus(StrEnum):
    ELIGIBLE = "eligible"
    EXPIRING_SOON = "expiring_soon"
    INELIGIBLE = "ineligible"

    @property
    def may_support(self) -> bool:
        return self is not EligibilityStatus.INELIGIBLE


class ReasonCode(StrEnum):
    NOT_A_PEER_SUPPORTER = "not_a_peer_supporter"
    CERTIFICATION_MISSING = "certification_missing"
    CERTIFICATION_UNVERIFIED = "certification_unverified"
    CERTIFICATION_EXPIRED = "certification_expired"
    CERTIFICATION_NOT_YET_VALID = "certification_not_yet_valid"
    TRAINING_MISSING = "training_missing"
    TRAINING_EXPIRED = "training_expired"
    SUPERVISOR_MISSING = "supervisor_missing"
    CERTIFICATION_EXPIRING = "certification_expiring"
    TRAINING_EXPIRING = "training_expiring"


# Reasons that mean time ran out, as opposed to a requirement taken away.
LAPSE_REASONS = frozenset({ReasonCode.CERTIFICATION_EXPIRED, ReasonCode.TRAINING_EXPIRED})


class EligibilityChange(StrEnum):
    GRANTED = "granted"
    EXPIRING_SOON = "expiring_soon"
    EXPIRED = "expired"
    REVOKED = "revoked"
