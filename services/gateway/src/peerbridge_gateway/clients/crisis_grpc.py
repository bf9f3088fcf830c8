"""The crisis port over gRPC: the referrals service's CrisisService, a deadline on every call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import grpc

from peerbridge.referrals.v1 import referrals_crisis_pb2 as crisis_pb2
from peerbridge.referrals.v1 import referrals_crisis_pb2_grpc as crisis_grpc
from peerbridge.sessions.v1 import sessions_events_pb2 as sessions_pb2
from peerbridge_platform.grpc import Caller
from peerbridge_platform.protobuf_time import optional_time

from .consents_grpc import list_field_name
from .crisis import (
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
from .grpc_calls import Req, Resp, unary_call
from .referrals_grpc import SERVICE, EnumCodec, request_id_for


def _raise_field_name(name: str) -> str:
    return "Idempotency-Key" if name == "request_id" else name


def _same(name: str) -> str:
    return name


class GrpcCrisisClient:
    """`CrisisClient` over a grpc.aio channel to the referrals service (the caller owns the
    channel)."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._stub = crisis_grpc.CrisisServiceStub(channel)

    async def raise_flag(
        self, flag: NewRiskFlag, *, caller: Caller, idempotency_key: str | None
    ) -> RaisedFlag:
        codecs = _codecs()
        request = crisis_pb2.RaiseRiskFlagRequest(
            request_id=request_id_for(idempotency_key),
            member_id=flag.member_id,
            program_id=flag.program_id,
            level=codecs.level.to_proto(flag.level),
            kind=codecs.kind.to_proto(flag.kind),
            source=codecs.source.to_proto(flag.source),
        )
        response = await self._call(self._stub.RaiseRiskFlag, request, caller, _raise_field_name)
        g = response.guidance
        guidance = CrisisGuidance(
            g.line_name, g.call_number, g.text_number, g.chat_url, g.emergency_number, g.message
        )
        return RaisedFlag(flag_from_proto(response.flag), guidance)

    async def acknowledge_flag(self, flag_id: str, *, caller: Caller) -> RiskFlag:
        request = crisis_pb2.AcknowledgeRiskFlagRequest(flag_id=flag_id)
        response = await self._call(self._stub.AcknowledgeRiskFlag, request, caller, _same)
        return flag_from_proto(response.flag)

    async def list_flags(
        self,
        program_id: str,
        *,
        unhandled_only: bool,
        limit: int,
        cursor: str | None,
        caller: Caller,
    ) -> RiskFlagPage:
        request = crisis_pb2.ListRiskFlagsRequest(
            program_id=program_id,
            unhandled_only=unhandled_only,
            page_size=limit,
            page_token=cursor or "",
        )
        response = await self._call(self._stub.ListRiskFlags, request, caller, list_field_name)
        return RiskFlagPage(
            [flag_from_proto(f) for f in response.flags], response.next_page_token or None
        )

    async def set_clinical_contact(
        self,
        member_id: str,
        program_id: str,
        organization_id: str,
        display_name: str,
        *,
        caller: Caller,
    ) -> ClinicalContact:
        request = crisis_pb2.SetClinicalContactRequest(
            member_id=member_id,
            program_id=program_id,
            organization_id=organization_id,
            display_name=display_name,
        )
        response = await self._call(self._stub.SetClinicalContact, request, caller, _same)
        return _contact(response.contact)

    async def get_clinical_contact(
        self, member_id: str, program_id: str, *, caller: Caller
    ) -> ClinicalContact:
        request = crisis_pb2.GetClinicalContactRequest(member_id=member_id, program_id=program_id)
        response = await self._call(self._stub.GetClinicalContact, request, caller, _same)
        return _contact(response.contact)

    async def set_on_call(
        self,
        program_id: str,
        supervisor_id: str,
        start_time: datetime,
        end_time: datetime,
        *,
        caller: Caller,
    ) -> OnCallShift:
        request = crisis_pb2.SetOnCallSupervisorRequest(
            program_id=program_id, supervisor_id=supervisor_id
        )
        request.start_time.FromDatetime(start_time)
        request.end_time.FromDatetime(end_time)
        response = await self._call(self._stub.SetOnCallSupervisor, request, caller, _same)
        return _shift(response.shift)

    async def get_on_call(self, program_id: str, *, caller: Caller) -> OnCallShift:
        request = crisis_pb2.GetOnCallRequest(program_id=program_id)
        response = await self._call(self._stub.GetOnCall, request, caller, _same)
        return _shift(response.shift)

    async def _call(
        self,
        method: Callable[..., Awaitable[Resp]],
        request: Req,
        caller: Caller,
        field_names: Callable[[str], str],
    ) -> Resp:
        return await unary_call(
            SERVICE,
            method,
            request,
            caller=caller,
            timeout_s=self._timeout_s,
            field_names=field_names,
        )


def flag_from_proto(message: crisis_pb2.RiskFlag) -> RiskFlag:
    codecs = _codecs()
    return RiskFlag(
        flag_id=message.flag_id,
        member_id=message.member_id,
        program_id=message.program_id,
        level=codecs.level.from_proto(message.level),
        kind=codecs.kind.from_proto(message.kind),
        source=codecs.source.from_proto(message.source),
        raised_by=message.raised_by,
        raised_at=message.raise_time.ToDatetime(tzinfo=UTC),
        route=codecs.route.from_proto(message.route),
        status=codecs.status.from_proto(message.status),
        referral_id=message.referral_id or None,
        clinic_organization_id=message.clinic_organization_id or None,
        assigned_supervisor_id=message.assigned_supervisor_id or None,
        acknowledged_by=message.acknowledged_by or None,
        acknowledged_at=optional_time(message, "acknowledge_time"),
    )


def _contact(message: crisis_pb2.ClinicalContact) -> ClinicalContact:
    return ClinicalContact(
        member_id=message.member_id,
        program_id=message.program_id,
        organization_id=message.organization_id,
        display_name=message.display_name,
        set_by=message.set_by,
        updated_at=message.update_time.ToDatetime(tzinfo=UTC),
    )


def _shift(message: crisis_pb2.OnCallShift) -> OnCallShift:
    return OnCallShift(
        shift_id=message.shift_id,
        program_id=message.program_id,
        supervisor_id=message.supervisor_id,
        start_time=message.start_time.ToDatetime(tzinfo=UTC),
        end_time=message.end_time.ToDatetime(tzinfo=UTC),
        set_by=message.set_by,
        created_at=message.create_time.ToDatetime(tzinfo=UTC),
    )


@dataclass(frozen=True)
class _Codecs:
    level: EnumCodec[RiskLevel]
    kind: EnumCodec[RiskKind]
    source: EnumCodec[RiskFlagSource]
    route: EnumCodec[RiskFlagRoute]
    status: EnumCodec[RiskFlagStatus]


@cache
def _codecs() -> _Codecs:
    # Built on first use, never at import.
    return _Codecs(
        level=EnumCodec(RiskLevel, sessions_pb2.RiskLevel, "RISK_LEVEL_"),
        kind=EnumCodec(RiskKind, sessions_pb2.RiskKind, "RISK_KIND_"),
        source=EnumCodec(RiskFlagSource, sessions_pb2.RiskFlagSource, "RISK_FLAG_SOURCE_"),
        route=EnumCodec(RiskFlagRoute, crisis_pb2.RiskFlagRoute, "RISK_FLAG_ROUTE_"),
        status=EnumCodec(RiskFlagStatus, crisis_pb2.RiskFlagStatus, "RISK_FLAG_STATUS_"),
    )
