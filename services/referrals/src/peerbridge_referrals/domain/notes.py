"""Free-text notes on a referral: who may write them, and what of them each reader gets.

Pure: no I/O, the time is always given.

- Writing: staff and partner clients of either side of the referral (the side is
  their organization, as for status changes); members do not write notes.
- Reading, for anyone who may see the referral:
  - staff of the peer support program read every note;
  - staff of the clinic read the clinic's notes, and the program's notes only under
    an active consent of the member letting the program disclose substance use
    treatment information to them for treatment (42 CFR Part 2: what a peer
    support program writes about a member is substance use information). Each
    such disclosure goes to the disclosure log; without a consent the note is
    withheld, with why;
  - the member reads the notes their author shared with them (right of access),
    and nothing of the others but that they exist.
A withheld note keeps its id, side, organization and time, never its text or author.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from peerbridge_platform.auth.principal import Principal, Role
from peerbridge_platform.errors import FieldViolation, InvalidArgument

from .consent import Consent, ConsentPurpose, InformationCategory, RecipientClass, covers
from .disclosure import DisclosureChannel, DisclosureEntry
from .events import DomainEvent
from .lifecycle import actor_for
from .model import Referral
from .rules import OPAQUE_ID_RULE, is_opaque_id
from .values import Party, PartyKind

NOTE_MAX_CHARS = 8000
NOTE_PURPOSE = ConsentPurpose.TREAT
NOTE_CATEGORY = InformationCategory.SUBSTANCE_USE_TREATMENT
NOT_SHARED_WITH_MEMBER = "not shared with the member by its author"
NOTES_DESCRIPTION = "Notes on a referral written by the peer support program"


@dataclass(frozen=True)
class AddReferralNote:
    """An add request as it arrives, unchecked."""

    request_id: str
    referral_id: str
    text: str
    shared_with_member: bool = False


@dataclass(frozen=True)
class NoteDraft:
    """A checked add request."""

    referral_id: UUID
    text: str = field(repr=False)
    shared_with_member: bool
    request_id: str | None


@dataclass(frozen=True)
class Note:
    note_id: UUID
    referral_id: UUID
    request_id: str | None
    author_id: str
    author_organization_id: str
    author_side: PartyKind
    shared_with_member: bool
    # Protected free text: kept out of reprs, so a note in a log line or traceback shows none.
    text: str = field(repr=False)
    create_time: datetime

    def same_request(self, draft: NoteDraft) -> bool:
        """Whether `draft` asks for this very note (a retry of its request)."""
        return (
            self.referral_id == draft.referral_id
            and self.text == draft.text
            and self.shared_with_member == draft.shared_with_member
        )


@dataclass(frozen=True)
class ReferralNoteAdded(DomainEvent):
    """A note was added; its event carries ids and codes, never the text."""

    note: Note
    subject_member_id: str


def validate_new_note(command: AddReferralNote) -> NoteDraft:
    """The checked request (text stripped), or InvalidArgument naming every bad field."""
    violations: list[FieldViolation] = []
    if command.request_id and not is_opaque_id(command.request_id):
        violations.append(FieldViolation("request_id", OPAQUE_ID_RULE))
    referral_id: UUID | None = None
    try:
        referral_id = UUID(command.referral_id)
    except ValueError:
        description = "is required" if not command.referral_id else "must be a UUID"
        violations.append(FieldViolation("referral_id", description))
    text = command.text.strip()
    if not text:
        violations.append(FieldViolation("text", "is required"))
    elif len(text) > NOTE_MAX_CHARS:
        violations.append(FieldViolation("text", f"must be at most {NOTE_MAX_CHARS} characters"))
    if violations or referral_id is None:
        raise InvalidArgument("the note is not valid", violations)
    return NoteDraft(referral_id, text, command.shared_with_member, command.request_id or None)


def note_author(principal: Principal, referral: Referral) -> Party | None:
    """The side of `referral` the caller writes for, or None when it speaks for neither."""
    actor = actor_for(principal, referral)
    if actor is None:
        return None
    if actor.organization_id == referral.requester.organization_id:
        return referral.requester
    return referral.recipient


def new_note(
    draft: NoteDraft,
    referral: Referral,
    author: Party,
    principal: Principal,
    *,
    note_id: UUID,
    now: datetime,
) -> tuple[Note, ReferralNoteAdded]:
    """The note as stored, and the fact of it (which never holds the text)."""
    note = Note(
        note_id=note_id,
        referral_id=draft.referral_id,
        request_id=draft.request_id,
        author_id=principal.subject,
        author_organization_id=author.organization_id,
        author_side=author.kind,
        shared_with_member=draft.shared_with_member,
        text=draft.text,
        create_time=now,
    )
    return note, ReferralNoteAdded(note, referral.subject_member_id)


class Reader(StrEnum):
    """Whom a caller reads a referral's notes as."""

    PEER_SUPPORT = "peer_support"
    CLINIC = "clinic"
    MEMBER = "member"
    # Sees the referral (a visibility rule admitted it) but belongs to neither side.
    NONE = "none"


def reader_for(principal: Principal, referral: Referral) -> tuple[Reader, Party | None]:
    """The caller as a reader of `referral`'s notes, and its side when it has one.

    Staff of a side read as that side even when they are also the member.
    """
    organization = principal.organization_id
    staff = bool(principal.roles - {Role.MEMBER})
    for party in (referral.requester, referral.recipient):
        if staff and organization is not None and organization == party.organization_id:
            reader = Reader.CLINIC if party.kind is PartyKind.CLINIC else Reader.PEER_SUPPORT
            return reader, party
    if principal.has_role(Role.MEMBER) and principal.subject == referral.subject_member_id:
        return Reader.MEMBER, None
    return Reader.NONE, None


@dataclass(frozen=True)
class NoteView:
    """A note as one reader gets it: whole, or withheld with why."""

    note: Note
    withheld_because: str | None = None

    @property
    def withheld(self) -> bool:
        return self.withheld_because is not None


@dataclass(frozen=True)
class NotesReading:
    """What a reader gets of some notes, and what of it is a disclosure to log."""

    views: list[NoteView]
    # The consent the program's notes were disclosed to the clinic under, and those notes.
    consent: Consent | None = None
    disclosed: tuple[Note, ...] = ()


def read_notes(
    principal: Principal,
    referral: Referral,
    notes: Sequence[Note],
    consents: Iterable[Consent],
    at: datetime,
) -> NotesReading:
    """Each of `notes` (of `referral`) as `principal` may read it at `at`."""
    reader, party = reader_for(principal, referral)
    if reader is Reader.PEER_SUPPORT:
        return NotesReading([NoteView(note) for note in notes])
    if reader is Reader.MEMBER:
        return NotesReading(
            [NoteView(n, None if n.shared_with_member else NOT_SHARED_WITH_MEMBER) for n in notes]
        )
    if reader is Reader.NONE or party is None:
        why = "the caller reads for neither side of the referral"
        return NotesReading([NoteView(note, why) for note in notes])
    program = _program_of(referral)
    gated = [n for n in notes if n.author_side is PartyKind.PEER_SUPPORT_PROGRAM]
    consent = _covering_consent(referral, program, party, consents, at) if gated else None
    if consent is None:
        why = (
            f"no active consent of the member lets {program.organization_id} disclose "
            f"{NOTE_CATEGORY.value} to {party.organization_id} for {NOTE_PURPOSE.code}"
        )
        views = [NoteView(n, why if n in gated else None) for n in notes]
        return NotesReading(views)
    return NotesReading([NoteView(n) for n in notes], consent, tuple(gated))


def _program_of(referral: Referral) -> Party:
    if referral.requester.kind is PartyKind.PEER_SUPPORT_PROGRAM:
        return referral.requester
    return referral.recipient


def _covering_consent(
    referral: Referral,
    program: Party,
    clinic: Party,
    consents: Iterable[Consent],
    at: datetime,
) -> Consent | None:
    """The newest consent of the member letting the program disclose its notes to the clinic."""
    newest_first = sorted(consents, key=lambda c: (c.create_time, c.consent_id), reverse=True)
    for consent in newest_first:
        if consent.subject_member_id != referral.subject_member_id:
            continue
        if consent.terms.disclosing_organization_id != program.organization_id:
            continue
        if covers(
            consent,
            clinic.organization_id,
            NOTE_PURPOSE,
            NOTE_CATEGORY,
            at,
            recipient_classes=frozenset({RecipientClass.TREATING_PROVIDERS}),
        ):
            return consent
    return None


def notes_log_entry(
    referral: Referral, reading: NotesReading, recipient_organization_id: str, at: datetime
) -> DisclosureEntry | None:
    """The disclosure log row for what `reading` disclosed, or None when it disclosed nothing."""
    if reading.consent is None or not reading.disclosed:
        return None
    count = len(reading.disclosed)
    return DisclosureEntry(
        referral_id=str(referral.referral_id),
        referral_version=referral.version,
        subject_member_id=referral.subject_member_id,
        recipient_organization_id=recipient_organization_id,
        consent_id=str(reading.consent.consent_id),
        purpose=NOTE_PURPOSE,
        category=NOTE_CATEGORY,
        description=f"{NOTES_DESCRIPTION} ({count}), with the member's consent",
        disclosed_at=at,
        # Read through the API by the clinic (0011 keeps only the FHIR view once per version).
        channel=DisclosureChannel.API_READ,
    )
