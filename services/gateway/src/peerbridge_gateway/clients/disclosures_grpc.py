"""The disclosures port over gRPC: the referrals service's ListDisclosures, with a deadline."""

from __future__ import annotations

from datetime import UTC

import grpc

from peerbridge.referrals.v1 import referrals_service_pb2 as service
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.grpc import Caller

from .consents_grpc import list_field_name
from .disclosures import Disclosure, DisclosurePage, DisclosureQuery
from .grpc_calls import unary_call
from .referrals_grpc import SERVICE


class GrpcDisclosuresClient:
    """`DisclosuresClient` over a grpc.aio channel to the referrals service (the caller owns
    the channel)."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._stub = service_grpc.ReferralsServiceStub(channel)

    async def list_disclosures(self, query: DisclosureQuery, *, caller: Caller) -> DisclosurePage:
        request = service.ListDisclosuresRequest(
            subject_member_id=query.subject_member_id,
            page_size=query.limit,
            page_token=query.cursor or "",
        )
        response = await unary_call(
            SERVICE,
            self._stub.ListDisclosures,
            request,
            caller=caller,
            timeout_s=self._timeout_s,
            field_names=list_field_name,
        )
        return DisclosurePage(
            items=[disclosure_from_proto(d) for d in response.disclosures],
            next_cursor=response.next_page_token or None,
        )


def disclosure_from_proto(message: service.Disclosure) -> Disclosure:
    return Disclosure(
        disclosure_id=message.disclosure_id,
        referral_id=message.referral_id,
        recipient_organization_id=message.recipient_organization_id,
        consent_id=message.consent_id,
        purpose=message.purpose,
        category=message.category,
        description=message.description,
        disclosed_at=message.disclosed_at.ToDatetime(tzinfo=UTC),
    )
