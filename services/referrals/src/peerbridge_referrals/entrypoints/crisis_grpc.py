"""The CrisisService servicer: translates each call and hands it to the crisis handlers with
the application's dependencies. Domain errors propagate to the error-mapping interceptor."""

from __future__ import annotations

from typing import Any

from peerbridge.referrals.v1 import referrals_crisis_pb2 as crisis_pb2
from peerbridge.referrals.v1 import referrals_crisis_pb2_grpc as crisis_grpc
from peerbridge_platform.auth.context import require_principal
from peerbridge_platform.grpc import ServiceRegistration
from peerbridge_platform.protobuf_time import optional_time

from ..adapters.crisis_protobuf import (
    to_proto_contact,
    to_proto_flag,
    to_proto_guidance,
    to_proto_shift,
)
from ..adapters.protobuf_values import value_name_from_proto
from ..domain.crisis import RiskFlagSource, RiskKind, RiskLevel, parse_flag
from ..service_layer import crisis_handlers as handlers
from ..service_layer.application import ReferralsApplication

SERVICE_NAME: str = crisis_pb2.DESCRIPTOR.services_by_name["CrisisService"].full_name


class CrisisServicer(crisis_grpc.CrisisServiceServicer):
    def __init__(self, application: ReferralsApplication) -> None:
        self._app = application

    def _deps(self) -> dict[str, Any]:
        return {"caller": require_principal(), "denials": self._app.denials}

    async def SetClinicalContact(
        self, request: crisis_pb2.SetClinicalContactRequest, context: Any
    ) -> crisis_pb2.SetClinicalContactResponse:
        command = handlers.SetContact(
            request.member_id, request.program_id, request.organization_id, request.display_name
        )
        contact = await handlers.set_clinical_contact(
            command, self._app.uow_factory(), clock=self._app.clock, **self._deps()
        )
        return crisis_pb2.SetClinicalContactResponse(contact=to_proto_contact(contact))

    async def GetClinicalContact(
        self, request: crisis_pb2.GetClinicalContactRequest, context: Any
    ) -> crisis_pb2.GetClinicalContactResponse:
        contact = await handlers.get_clinical_contact(
            request.member_id, request.program_id, self._app.uow_factory(), **self._deps()
        )
        return crisis_pb2.GetClinicalContactResponse(contact=to_proto_contact(contact))

    async def SetOnCallSupervisor(
        self, request: crisis_pb2.SetOnCallSupervisorRequest, context: Any
    ) -> crisis_pb2.SetOnCallSupervisorResponse:
        command = handlers.SetOnCall(
            request.program_id,
            request.supervisor_id,
            optional_time(request, "start_time"),
            optional_time(request, "end_time"),
        )
        shift = await handlers.set_on_call_supervisor(
            command,
            self._app.uow_factory(),
            clock=self._app.clock,
            new_id=self._app.new_id,
            **self._deps(),
        )
        return crisis_pb2.SetOnCallSupervisorResponse(shift=to_proto_shift(shift))

    async def GetOnCall(
        self, request: crisis_pb2.GetOnCallRequest, context: Any
    ) -> crisis_pb2.GetOnCallResponse:
        shift = await handlers.get_on_call(
            request.program_id,
            optional_time(request, "at_time"),
            self._app.uow_factory(),
            clock=self._app.clock,
            **self._deps(),
        )
        return crisis_pb2.GetOnCallResponse(shift=to_proto_shift(shift))

    async def RaiseRiskFlag(
        self, request: crisis_pb2.RaiseRiskFlagRequest, context: Any
    ) -> crisis_pb2.RaiseRiskFlagResponse:
        details = parse_flag(
            request.member_id,
            request.program_id,
            value_name_from_proto(RiskLevel, request.level),
            value_name_from_proto(RiskKind, request.kind),
            value_name_from_proto(RiskFlagSource, request.source),
            request.request_id,
        )
        flag = await handlers.raise_risk_flag(
            handlers.RaiseFlag(request.request_id, details),
            self._app.uow_factory(),
            clock=self._app.clock,
            new_id=self._app.new_id,
            **self._deps(),
        )
        return crisis_pb2.RaiseRiskFlagResponse(
            flag=to_proto_flag(flag), guidance=to_proto_guidance()
        )

    async def AcknowledgeRiskFlag(
        self, request: crisis_pb2.AcknowledgeRiskFlagRequest, context: Any
    ) -> crisis_pb2.AcknowledgeRiskFlagResponse:
        flag = await handlers.acknowledge_risk_flag(
            request.flag_id, self._app.uow_factory(), clock=self._app.clock, **self._deps()
        )
        return crisis_pb2.AcknowledgeRiskFlagResponse(flag=to_proto_flag(flag))

    async def ListRiskFlags(
        self, request: crisis_pb2.ListRiskFlagsRequest, context: Any
    ) -> crisis_pb2.ListRiskFlagsResponse:
        query = handlers.ListFlags(
            request.program_id, request.unhandled_only, request.page_size, request.page_token
        )
        page = await handlers.list_risk_flags(
            query, self._app.uow_factory(), limits=self._app.page_limits, **self._deps()
        )
        return crisis_pb2.ListRiskFlagsResponse(
            flags=[to_proto_flag(f) for f in page.flags], next_page_token=page.next_page_token
        )


def crisis_registration(application: ReferralsApplication) -> ServiceRegistration:
    servicer = CrisisServicer(application)
    return ServiceRegistration(
        SERVICE_NAME,
        lambda server: crisis_grpc.add_CrisisServiceServicer_to_server(servicer, server),
    )
