"""The emergency access port over gRPC: the referrals service's EmergencyAccessService, a
deadline on every call, on a channel of its own (as the crisis client)."""

from __future__ import annotations

from datetime import UTC

import grpc

from peerbridge.referrals.v1 import referrals_emergency_pb2 as emergency_pb2
from peerbridge.referrals.v1 import referrals_emergency_pb2_grpc as emergency_grpc
from peerbridge_platform.grpc import Caller
from peerbridge_platform.protobuf_time import optional_time

from .consents_grpc import list_field_name
from .emergency import (
    EmergencyAccess,
    EmergencyDisclosure,
    EmergencyPage,
    EmergencyQuery,
    EmergencyRequest,
)
from .grpc_calls import unary_call
from .referrals_grpc import SERVICE, referral_from_proto, request_id_for

_DISCLOSE_FIELDS = {"request_id": "Idempotency-Key"}


class GrpcEmergencyClient:
    """`EmergencyClient` over a grpc.aio channel to the referrals service (the caller owns
    the channel)."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._stub = emergency_grpc.EmergencyAccessServiceStub(channel)

    async def disclose(
        self, request: EmergencyRequest, *, caller: Caller, idempotency_key: str | None
    ) -> EmergencyAccess:
        message = emergency_pb2.DiscloseForEmergencyRequest(
            request_id=request_id_for(idempotency_key),
            referral_id=request.referral_id,
            nature_of_emergency=request.nature_of_emergency,
            recipient_facility=request.recipient_facility,
        )
        response = await unary_call(
            SERVICE,
            self._stub.DiscloseForEmergency,
            message,
            caller=caller,
            timeout_s=self._timeout_s,
            field_names=_DISCLOSE_FIELDS,
        )
        return EmergencyAccess(
            referral_from_proto(response.referral),
            emergency_from_proto(response.emergency_disclosure),
        )

    async def list_disclosures(self, query: EmergencyQuery, *, caller: Caller) -> EmergencyPage:
        message = emergency_pb2.ListEmergencyDisclosuresRequest(
            organization_id=query.organization_id,
            unreviewed_only=query.unreviewed_only,
            page_size=query.limit,
            page_token=query.cursor or "",
        )
        response = await unary_call(
            SERVICE,
            self._stub.ListEmergencyDisclosures,
            message,
            caller=caller,
            timeout_s=self._timeout_s,
            field_names=list_field_name,
        )
        return EmergencyPage(
            items=[emergency_from_proto(r) for r in response.emergency_disclosures],
            next_cursor=response.next_page_token or None,
        )

    async def review(
        self, emergency_disclosure_id: str, note: str, *, caller: Caller
    ) -> EmergencyDisclosure:
        message = emergency_pb2.ReviewEmergencyDisclosureRequest(
            emergency_disclosure_id=emergency_disclosure_id, review_note=note
        )
        response = await unary_call(
            SERVICE,
            self._stub.ReviewEmergencyDisclosure,
            message,
            caller=caller,
            timeout_s=self._timeout_s,
            field_names={"review_note": "note"},
        )
        return emergency_from_proto(response.emergency_disclosure)


def emergency_from_proto(message: emergency_pb2.EmergencyDisclosure) -> EmergencyDisclosure:
    return EmergencyDisclosure(
        emergency_disclosure_id=message.emergency_disclosure_id,
        referral_id=message.referral_id,
        subject_member_id=message.subject_member_id,
        recipient_person_id=message.recipient_person_id,
        recipient_organization_id=message.recipient_organization_id,
        recipient_facility=message.recipient_facility,
        disclosing_organization_id=message.disclosing_organization_id,
        disclosed_at=message.disclosed_at.ToDatetime(tzinfo=UTC),
        nature_of_emergency=message.nature_of_emergency,
        reviewed_at=optional_time(message, "review_time"),
        reviewed_by=message.reviewed_by or None,
        review_note=message.review_note or None,
    )
