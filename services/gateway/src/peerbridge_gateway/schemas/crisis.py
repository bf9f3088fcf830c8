"""Risk flags, clinical contacts and on-call supervisors as JSON (unknown fields and codes
refused with 422); every answer to a raised flag carries the crisis line guidance."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..clients.crisis import (
    ClinicalContact,
    CrisisGuidance,
    NewRiskFlag,
    OnCallShift,
    RaisedFlag,
    RiskFlag,
    RiskFlagPage,
    RiskFlagRoute,
    RiskFlagSource,
    RiskFlagStatus,
    RiskKind,
    RiskLevel,
)
from .referrals import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

_ID = Field(min_length=1, max_length=128)


class RiskFlagIn(BaseModel):
    """A risk flag about a member: codes only, what was said stays with whoever heard it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "member_id": "member-demo-ava",
                    "program_id": "program-harbour",
                    "level": "imminent",
                    "kind": "self_harm",
                    "source": "peer_supporter",
                }
            ]
        },
    )

    member_id: str = _ID
    program_id: str = Field(min_length=1, max_length=128, description="The member's program.")
    level: RiskLevel = Field(description="imminent: a risk of harm now; elevated: within the day.")
    kind: RiskKind
    source: RiskFlagSource

    def to_port(self) -> NewRiskFlag:
        return NewRiskFlag(self.member_id, self.program_id, self.level, self.kind, self.source)


class RiskFlagOut(BaseModel):
    """A flag and where it went; unhandled until a coordinator or supervisor acknowledges it."""

    flag_id: str
    member_id: str
    program_id: str
    level: RiskLevel
    kind: RiskKind
    source: RiskFlagSource
    raised_by: str
    raised_at: datetime
    route: RiskFlagRoute = Field(
        description="clinical_contact: an urgent crisis referral to the member's clinic under "
        "consent; on_call_supervisor: assigned to the program's on-call supervisor; "
        "coordinators: no route, escalated to the program's coordinators."
    )
    status: RiskFlagStatus
    referral_id: str | None = Field(description="The crisis referral, for clinical_contact.")
    clinic_organization_id: str | None
    assigned_supervisor_id: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None

    @classmethod
    def from_port(cls, flag: RiskFlag) -> RiskFlagOut:
        return cls(**flag.__dict__)


class CrisisGuidanceOut(BaseModel):
    """What to do now, whatever the route: the 988 Suicide & Crisis Lifeline, or 911."""

    line_name: str
    call_number: str
    text_number: str
    chat_url: str
    emergency_number: str
    message: str

    @classmethod
    def from_port(cls, guidance: CrisisGuidance) -> CrisisGuidanceOut:
        return cls(**guidance.__dict__)


class RaisedFlagOut(BaseModel):
    flag: RiskFlagOut
    guidance: CrisisGuidanceOut

    @classmethod
    def from_port(cls, raised: RaisedFlag) -> RaisedFlagOut:
        return cls(
            flag=RiskFlagOut.from_port(raised.flag),
            guidance=CrisisGuidanceOut.from_port(raised.guidance),
        )


class RiskFlagPageOut(BaseModel):
    """One page of a program's flags, newest first; `next_cursor` is null on the last page."""

    items: list[RiskFlagOut]
    next_cursor: str | None

    @classmethod
    def from_port(cls, page: RiskFlagPage) -> RiskFlagPageOut:
        return cls(
            items=[RiskFlagOut.from_port(f) for f in page.items], next_cursor=page.next_cursor
        )


class RiskFlagListQuery(BaseModel):
    """Query parameters of a program's flags; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    program_id: str = Field(min_length=1, max_length=128, description="The program; required.")
    unhandled: bool = Field(default=False, description="Only flags nobody acknowledged yet.")
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, min_length=1)


class AcknowledgementIn(BaseModel):
    """An acknowledgement: the caller takes charge of the flag."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ClinicalContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    program_id: str = Field(
        min_length=1, max_length=128, description="The program that escalates to this clinic."
    )
    organization_id: str = Field(min_length=1, max_length=128, description="The clinic.")
    display_name: str = Field(min_length=1, max_length=200, description="The clinic's name.")


class ClinicalContactOut(BaseModel):
    member_id: str
    program_id: str
    organization_id: str
    display_name: str
    set_by: str
    updated_at: datetime

    @classmethod
    def from_port(cls, contact: ClinicalContact) -> ClinicalContactOut:
        return cls(**contact.__dict__)


class ClinicalContactQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    program_id: str = Field(min_length=1, max_length=128, description="The member's program.")


class OnCallIn(BaseModel):
    """Who is on call for the program, from when until when (at most 31 days)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    supervisor_id: str = Field(min_length=1, max_length=128)
    start_time: AwareDatetime
    end_time: AwareDatetime


class OnCallOut(BaseModel):
    shift_id: str
    program_id: str
    supervisor_id: str
    start_time: datetime
    end_time: datetime
    set_by: str
    created_at: datetime

    @classmethod
    def from_port(cls, shift: OnCallShift) -> OnCallOut:
        return cls(**shift.__dict__)
