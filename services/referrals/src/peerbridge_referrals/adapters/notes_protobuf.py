"""Notes ⇄ protobuf messages of `peerbridge.referrals.v1` (referrals_notes.proto), and the
ReferralNoteAdded integration event (ids and codes, never the text)."""

from __future__ import annotations

from peerbridge.referrals.v1 import referrals_notes_pb2 as notes_pb2
from peerbridge_platform.envelope import Envelope, envelope_for_proto

from ..domain.notes import NoteView, ReferralNoteAdded
from .protobuf_values import party_kind_to_proto, to_timestamp


def to_proto_note(view: NoteView) -> notes_pb2.ReferralNote:
    """A withheld note shows that it exists, its side and time: not its text nor author."""
    note = view.note
    message = notes_pb2.ReferralNote(
        note_id=str(note.note_id),
        referral_id=str(note.referral_id),
        author_side=party_kind_to_proto(note.author_side),
        author_organization_id=note.author_organization_id,
        shared_with_member=note.shared_with_member,
        create_time=to_timestamp(note.create_time),
    )
    if view.withheld_because is not None:
        message.withheld = True
        message.withheld_reason = view.withheld_because
    else:
        message.author_id = note.author_id
        message.text = note.text
    return message


def note_added_message(event: ReferralNoteAdded) -> notes_pb2.ReferralNoteAdded:
    note = event.note
    return notes_pb2.ReferralNoteAdded(
        note_id=str(note.note_id),
        referral_id=str(note.referral_id),
        subject_member_id=event.subject_member_id,
        author_side=party_kind_to_proto(note.author_side),
        author_organization_id=note.author_organization_id,
        shared_with_member=note.shared_with_member,
        create_time=to_timestamp(note.create_time),
    )


def note_added_envelope(event: ReferralNoteAdded, source: str) -> Envelope:
    # Keyed by the referral id: a referral's events stay in order.
    note = event.note
    return envelope_for_proto(
        note_added_message(event),
        source=source,
        subject=str(note.referral_id),
        time=note.create_time,
    )
