"""The ReferralNotesService servicer: translates each call and hands it to the application.

Domain errors propagate as they are; the platform's error-mapping interceptor turns
them into canonical status codes with field violations.
"""

from __future__ import annotations

from typing import Any

from peerbridge.referrals.v1 import referrals_notes_pb2 as notes_pb2
from peerbridge.referrals.v1 import referrals_notes_pb2_grpc as notes_grpc
from peerbridge_platform.grpc import ServiceRegistration

from ..adapters.notes_protobuf import to_proto_note
from ..domain.notes import AddReferralNote, NoteView
from ..service_layer.application import ReferralsApplication
from ..service_layer.notes_handlers import ListReferralNotes

SERVICE_NAME: str = notes_pb2.DESCRIPTOR.services_by_name["ReferralNotesService"].full_name


class ReferralNotesServicer(notes_grpc.ReferralNotesServiceServicer):
    def __init__(self, application: ReferralsApplication) -> None:
        self._application = application

    async def AddReferralNote(
        self, request: notes_pb2.AddReferralNoteRequest, context: Any
    ) -> notes_pb2.AddReferralNoteResponse:
        command = AddReferralNote(
            request_id=request.request_id,
            referral_id=request.referral_id,
            text=request.text,
            shared_with_member=request.shared_with_member,
        )
        note = await self._application.add_referral_note(command)
        return notes_pb2.AddReferralNoteResponse(note=to_proto_note(NoteView(note)))

    async def ListReferralNotes(
        self, request: notes_pb2.ListReferralNotesRequest, context: Any
    ) -> notes_pb2.ListReferralNotesResponse:
        query = ListReferralNotes(
            referral_id=request.referral_id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        page = await self._application.list_referral_notes(query)
        return notes_pb2.ListReferralNotesResponse(
            notes=[to_proto_note(view) for view in page.notes],
            next_page_token=page.next_page_token,
        )


def notes_registration(application: ReferralsApplication) -> ServiceRegistration:
    servicer = ReferralNotesServicer(application)
    return ServiceRegistration(
        SERVICE_NAME,
        lambda server: notes_grpc.add_ReferralNotesServiceServicer_to_server(servicer, server),
    )
