"""The worklist port over gRPC: the referrals service's WorklistService, with a deadline."""

from __future__ import annotations

from datetime import UTC

import grpc

from peerbridge.referrals.v1 import referrals_worklist_pb2 as worklist
from peerbridge.referrals.v1 import referrals_worklist_pb2_grpc as worklist_grpc
from peerbridge_platform.grpc import Caller

from .consents_grpc import list_field_name
from .grpc_calls import unary_call
from .referrals_grpc import SERVICE, EnumCodec, _codecs
from .worklist import (
    ItemKind,
    OverdueKind,
    WorklistItem,
    WorklistPage,
    WorklistQuery,
    WorklistSide,
)

_KIND = EnumCodec(ItemKind, worklist.WorklistItemKind, "WORKLIST_ITEM_KIND_")
_OVERDUE = EnumCodec(OverdueKind, worklist.OverdueKind, "OVERDUE_KIND_")
_SIDE = EnumCodec(WorklistSide, worklist.WorklistSide, "WORKLIST_SIDE_")


class GrpcWorklistClient:
    """`WorklistClient` over a grpc.aio channel to the referrals service (the caller owns
    the channel)."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._stub = worklist_grpc.WorklistServiceStub(channel)

    async def list_worklist(self, query: WorklistQuery, *, caller: Caller) -> WorklistPage:
        request = worklist.ListWorklistRequest(
            organization_id=query.organization_id,
            page_size=query.limit,
            page_token=query.cursor or "",
        )
        response = await unary_call(
            SERVICE,
            self._stub.ListWorklist,
            request,
            caller=caller,
            timeout_s=self._timeout_s,
            field_names=list_field_name,
        )
        return WorklistPage(
            items=[item_from_proto(item) for item in response.items],
            next_cursor=response.next_page_token or None,
        )

    async def mark_seen(self, item_id: str, *, caller: Caller) -> None:
        await unary_call(
            SERVICE,
            self._stub.MarkWorklistItemSeen,
            worklist.MarkWorklistItemSeenRequest(item_id=item_id),
            caller=caller,
            timeout_s=self._timeout_s,
        )


def item_from_proto(message: worklist.WorklistItem) -> WorklistItem:
    codecs = _codecs()
    unset = 0
    return WorklistItem(
        item_id=message.item_id,
        referral_id=message.referral_id,
        subject_member_id=message.subject_member_id,
        kind=_KIND.from_proto(message.kind),
        overdue_kind=(
            _OVERDUE.from_proto(message.overdue_kind) if message.overdue_kind != unset else None
        ),
        side=_SIDE.from_proto(message.side),
        priority=codecs.priority.from_proto(message.priority),
        status=codecs.status.from_proto(message.status),
        category=codecs.category.from_proto(message.category),
        counterpart_organization_id=message.counterpart_organization_id,
        item_time=message.item_time.ToDatetime(tzinfo=UTC),
        status_reason_category=(
            codecs.reason_category.from_proto(message.status_reason_category)
            if message.status_reason_category != unset
            else None
        ),
    )
