"""The WorklistService servicer: translates each call and hands it to the application."""

from __future__ import annotations

from typing import Any

from peerbridge.referrals.v1 import referrals_worklist_pb2 as worklist_pb2
from peerbridge.referrals.v1 import referrals_worklist_pb2_grpc as worklist_grpc
from peerbridge_platform.grpc import ServiceRegistration

from ..adapters.worklist_protobuf import to_proto_item
from ..service_layer.worklist_handlers import (
    ListWorklist,
    MarkWorklistItemSeen,
    WorklistApplication,
)

SERVICE_NAME: str = worklist_pb2.DESCRIPTOR.services_by_name["WorklistService"].full_name


class WorklistServicer(worklist_grpc.WorklistServiceServicer):
    def __init__(self, application: WorklistApplication) -> None:
        self._application = application

    async def ListWorklist(
        self, request: worklist_pb2.ListWorklistRequest, context: Any
    ) -> worklist_pb2.ListWorklistResponse:
        page = await self._application.list_worklist(
            ListWorklist(
                organization_id=request.organization_id,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        )
        return worklist_pb2.ListWorklistResponse(
            items=[to_proto_item(item) for item in page.items],
            next_page_token=page.next_page_token,
        )

    async def MarkWorklistItemSeen(
        self, request: worklist_pb2.MarkWorklistItemSeenRequest, context: Any
    ) -> worklist_pb2.MarkWorklistItemSeenResponse:
        await self._application.mark_item_seen(MarkWorklistItemSeen(item_id=request.item_id))
        return worklist_pb2.MarkWorklistItemSeenResponse()


def worklist_registration(application: WorklistApplication) -> ServiceRegistration:
    servicer = WorklistServicer(application)
    return ServiceRegistration(
        SERVICE_NAME,
        lambda server: worklist_grpc.add_WorklistServiceServicer_to_server(servicer, server),
    )
