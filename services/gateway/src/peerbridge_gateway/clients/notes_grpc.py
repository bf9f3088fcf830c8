"""The notes port over gRPC: the referrals service's ReferralNotesService, a deadline on
every call, sharing the referrals channel."""

from __future__ import annotations

from datetime import UTC
from functools import cache

import grpc

from peerbridge.referrals.v1 import referrals_notes_pb2 as notes_pb2
from peerbridge.referrals.v1 import referrals_notes_pb2_grpc as notes_grpc
from peerbridge.referrals.v1 import referrals_resources_pb2 as resources
from peerbridge_platform.grpc import Caller

from .consents_grpc import list_field_name
from .grpc_calls import unary_call
from .notes import Note, NotePage, NoteQuery
from .referrals import PartyKind
from .referrals_grpc import SERVICE, EnumCodec, request_id_for

_ADD_FIELDS = {"request_id": "Idempotency-Key"}


class GrpcNotesClient:
    """`NotesClient` over a grpc.aio channel to the referrals service (the caller owns the
    channel)."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._stub = notes_grpc.ReferralNotesServiceStub(channel)

    async def add_note(
        self,
        referral_id: str,
        text: str,
        shared_with_member: bool,
        *,
        caller: Caller,
        idempotency_key: str | None,
    ) -> Note:
        request = notes_pb2.AddReferralNoteRequest(
            request_id=request_id_for(idempotency_key),
            referral_id=referral_id,
            text=text,
            shared_with_member=shared_with_member,
        )
        response = await unary_call(
            SERVICE,
            self._stub.AddReferralNote,
            request,
            caller=caller,
            timeout_s=self._timeout_s,
            field_names=_ADD_FIELDS,
        )
        return note_from_proto(response.note)

    async def list_notes(self, query: NoteQuery, *, caller: Caller) -> NotePage:
        request = notes_pb2.ListReferralNotesRequest(
            referral_id=query.referral_id, page_size=query.limit, page_token=query.cursor or ""
        )
        response = await unary_call(
            SERVICE,
            self._stub.ListReferralNotes,
            request,
            caller=caller,
            timeout_s=self._timeout_s,
            field_names=list_field_name,
        )
        return NotePage(
            items=[note_from_proto(n) for n in response.notes],
            next_cursor=response.next_page_token or None,
        )


def note_from_proto(message: notes_pb2.ReferralNote) -> Note:
    withheld = message.withheld
    return Note(
        note_id=message.note_id,
        referral_id=message.referral_id,
        author_side=_party_kind().from_proto(message.author_side),
        author_organization_id=message.author_organization_id,
        shared_with_member=message.shared_with_member,
        created_at=message.create_time.ToDatetime(tzinfo=UTC),
        author_id=None if withheld else message.author_id,
        text=None if withheld else message.text,
        withheld_reason=message.withheld_reason if withheld else None,
    )


@cache
def _party_kind() -> EnumCodec[PartyKind]:
    # Built on first use, never at import.
    return EnumCodec(PartyKind, resources.PartyKind, "PARTY_KIND_")
