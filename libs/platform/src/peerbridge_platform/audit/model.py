"""What an audit record holds: who, what, when, why and from where."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# http://terminology.hl7.org/CodeSystem/v3-ActReason (the PurposeOfUse branch).
PURPOSE_OF_USE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_RESOURCE_TYPE = re.compile(r"[a-z][a-z0-9_]*")
_MAX_ID = 256
# A reason explains a decision; it is not a place for clinical detail.
MAX_REASON = 1000


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


class PurposeOfUse(StrEnum):
    """HL7 v3 PurposeOfUse codes that PeerBridge records."""

    TREAT = "TREAT"  # treatment
    ETREAT = "ETREAT"  # emergency treatment
    BTG = "BTG"  # break the glass
    COC = "COC"  # coordination of care
    CAREMGT = "CAREMGT"  # care management
    PATRQT = "PATRQT"  # requested by the patient (the member) themselves
    HPAYMT = "HPAYMT"  # healthcare payment
    HOPERAT = "HOPERAT"  # healthcare operations
    HQUALIMP = "HQUALIMP"  # quality improvement (program evaluation)
    HSYSADMIN = "HSYSADMIN"  # system administration
    HRESCH = "HRESCH"  # research
    PUBHLTH = "PUBHLTH"  # public health
    HLEGAL = "HLEGAL"  # legal
    HTEST = "HTEST"  # test data


@dataclass(frozen=True)
class Actor:
    """Who acted. From the verified principal when there is one (see `Auditor.record`)."""

    subject_id: str | None = None
    client_id: str | None = None
    organization_id: str | None = None
    roles: tuple[str, ...] = ()
    # An unverified caller name from metadata: a hint for investigators, never an identity.
    asserted_principal: str | None = None


@dataclass(frozen=True)
class Origin:
    """From where: the call's network peer, request id and trace id."""

    peer: str | None = None
    request_id: str | None = None
    trace_id: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    audit_id: str
    occurred_at: datetime
    service: str
    action: str
    resource_type: str
    resource_id: str | None
    subject_id: str | None
    outcome: Outcome
    purpose: PurposeOfUse
    reason: str | None
    actor: Actor = field(default_factory=Actor)
    origin: Origin = field(default_factory=Origin)

    def __post_init__(self) -> None:
        # Mistakes here are programming errors at a call site, so they fail loudly.
        if not _ACTION.fullmatch(self.action):
            raise ValueError(f"action {self.action!r} must look like 'referral.read'")
        if not _RESOURCE_TYPE.fullmatch(self.resource_type):
            raise ValueError(f"resource_type {self.resource_type!r} must look like 'referral'")
        for name in ("resource_id", "subject_id"):
            value = getattr(self, name)
            if value is not None and not 0 < len(value) <= _MAX_ID:
                raise ValueError(f"{name} must be 1 to {_MAX_ID} characters")
        if self.reason is not None and len(self.reason) > MAX_REASON:
            raise ValueError(f"reason must be at most {MAX_REASON} characters")
        if self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at must be timezone-aware")
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        object.__setattr__(self, "purpose", PurposeOfUse(self.purpose))

    @property
    def key(self) -> str:
        """The Kafka key: the member's id keeps one member's trail in order."""
        return self.subject_id or self.resource_id or self.audit_id
