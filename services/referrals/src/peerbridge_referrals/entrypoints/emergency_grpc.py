"""EmergencyAccessService over gRPC: break-the-glass (42 CFR 2.51), its listing and review."""

from __future__ import annotations

from typing import Any

from peerbridge.referrals.v1 import referrals_emergency_pb2 as emergency_pb2
from peerbridge.referrals.v1 import referrals_emergency_pb2_grpc as emergency_grpc
from peerbridge_platform.grpc import ServiceRegistration

from ..adapters.emergency_protobuf import to_proto_emergency_disclosure
from ..adapters.protobuf_values import to_proto_referral
from ..service_layer.application import ReferralsApplication
from ..service_layer.emergency_handlers import (
    DiscloseForEmergency,
    ListEmergencyDisclosures,
    ReviewEmergencyDisclosure,
)

EMERGENCY_SERVICE_NAME: str = emergency_pb2.DESCRIPTOR.services_by_name[
    "EmergencyAccessService"
].full_name


class EmergencyAccessServicer(emergency_grpc.EmergencyAccessServiceServicer):
    def __init__(self, application: ReferralsApplication) -> None:
        self._application = application

    async def DiscloseForEmergency(
        self, request: emergency_pb2.DiscloseForEmergencyRequest, context: Any
    ) -> emergency_pb2.DiscloseForEmergencyResponse:
        access = await self._application.disclose_for_emergency(
            DiscloseForEmergency(
                referral_id=request.referral_id,
                nature_of_emergency=request.nature_of_emergency,
                recipient_facility=request.recipient_facility,
                request_id=request.request_id,
            )
        )
        return emergency_pb2.DiscloseForEmergencyResponse(
            referral=to_proto_referral(access.referral),
            emergency_disclosure=to_proto_emergency_disclosure(access.record),
        )

    async def ListEmergencyDisclosures(
        self, request: emergency_pb2.ListEmergencyDisclosuresRequest, context: Any
    ) -> emergency_pb2.ListEmergencyDisclosuresResponse:
        page = await self._application.list_emergency_disclosures(
            ListEmergencyDisclosures(
                organization_id=request.organization_id,
                unreviewed_only=request.unreviewed_only,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        )
        return emergency_pb2.ListEmergencyDisclosuresResponse(
            emergency_disclosures=[to_proto_emergency_disclosure(r) for r in page.records],
            next_page_token=page.next_page_token,
        )

    async def ReviewEmergencyDisclosure(
        self, request: emergency_pb2.ReviewEmergencyDisclosureRequest, context: Any
    ) -> emergency_pb2.ReviewEmergencyDisclosureResponse:
        record = await self._application.review_emergency_disclosure(
            ReviewEmergencyDisclosure(
                emergency_disclosure_id=request.emergency_disclosure_id,
                review_note=request.review_note,
            )
        )
        return emergency_pb2.ReviewEmergencyDisclosureResponse(
            emergency_disclosure=to_proto_emergency_disclosure(record)
        )


def emergency_registration(application: ReferralsApplication) -> ServiceRegistration:
    servicer = EmergencyAccessServicer(application)
    return ServiceRegistration(
        EMERGENCY_SERVICE_NAME,
        lambda server: emergency_grpc.add_EmergencyAccessServiceServicer_to_server(
            servicer, server
        ),
    )
