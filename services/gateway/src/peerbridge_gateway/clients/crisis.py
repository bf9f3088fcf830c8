"""The crisis port: risk flags, clinical contacts and the on-call supervisor, as the gateway
asks the referrals service's CrisisService for them, in its own types.

Enum values are the lower-case codes of the HTTP API; member names match the protobuf enums
without their prefix. The rules (who may, what is valid, where a flag goes) are the service's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from peerbridge_platform.grpc import Caller


class RiskLevel(StrEnum):
    ELEVATED = "elevated"
    IMMINENT = "imminent"


class RiskKind(StrEnum):
    SELF_HARM = "self_harm"
    OVERDOSE = "overdose"
    RETURN_TO_USE = "return_to_use"
    VIOLENCE = "violence"
    OTHER = "other"


class RiskFlagSource(StrEnum):
    CHECK_IN = "check_in"
    PEER_SUPPORTER = "peer_supporter"
    SESSION_FACILITATOR = "session_facilitator"


class RiskFlagRoute(StrEnum):
    CLINICAL_CONTACT = "clinical_contact"
    ON_CALL_SUPERVISOR = "on_call_supervisor"
    COORDINATORS = "coordinators"


class RiskFlagStatus(StrEnum):
    UNHANDLED = "unhandled"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class NewRiskFlag:
    member_id: str
    program_id: str
    level: RiskLevel
    kind: RiskKind
    source: RiskFlagSource


@dataclass(frozen=True)
class RiskFlag:
    flag_id: str
    member_id: str
    program_id: str
    level: RiskLevel
    kind: RiskKind
    source: RiskFlagSource
    raised_by: str
    raised_at: datetime
    route: RiskFlagRoute
    status: RiskFlagStatus
    referral_id: str | None
    clinic_organization_id: str | None
    assigned_supervisor_id: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class CrisisGuidance:
    line_name: str
    call_number: str
    text_number: str
    chat_url: str
    emergency_number: str
    message: str


@dataclass(frozen=True)
class RaisedFlag:
    flag: RiskFlag
    guidance: CrisisGuidance


@dataclass(frozen=True)
class RiskFlagPage:
    items: list[RiskFlag]
    next_cursor: str | None


@dataclass(frozen=True)
class ClinicalContact:
    member_id: str
    program_id: str
    organization_id: str
    display_name: str
    set_by: str
    updated_at: datetime


@dataclass(frozen=True)
class OnCallShift:
    shift_id: str
    program_id: str
    supervisor_id: str
    start_time: datetime
    end_time: datetime
    set_by: str
    created_at: datetime


class CrisisClient(Protocol):
    """The referrals service's CrisisService. Failures raise `ServiceError`."""

    async def raise_flag(
        self, flag: NewRiskFlag, *, caller: Caller, idempotency_key: str | None
    ) -> RaisedFlag: ...

    async def acknowledge_flag(self, flag_id: str, *, caller: Caller) -> RiskFlag: ...

    async def list_flags(
        self,
        program_id: str,
        *,
        unhandled_only: bool,
        limit: int,
        cursor: str | None,
        caller: Caller,
    ) -> RiskFlagPage: ...

    async def set_clinical_contact(
        self,
        member_id: str,
        program_id: str,
        organization_id: str,
        display_name: str,
        *,
        caller: Caller,
    ) -> ClinicalContact: ...

    async def get_clinical_contact(
        self, member_id: str, program_id: str, *, caller: Caller
    ) -> ClinicalContact: ...

    async def set_on_call(
        self,
        program_id: str,
        supervisor_id: str,
        start_time: datetime,
        end_time: datetime,
        *,
        caller: Caller,
    ) -> OnCallShift: ...

    async def get_on_call(self, program_id: str, *, caller: Caller) -> OnCallShift: ...
