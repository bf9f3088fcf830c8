"""Notes use cases: add a note to a referral, list a referral's notes.

Each allowed call writes its audit record (referral.note.add, referral.note.list)
in the transaction of its work, and a note of the program disclosed to the clinic
its disclosure log row in that same transaction; each refusal is audited as
denied. Neither audit records nor log lines ever hold a note's text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from peerbridge_platform.auth.principal import Principal
from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE
from peerbridge_platform.errors import (
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from peerbridge_platform.logging import get_logger

from ..domain.access_rules import purpose_of_use, visibility_for
from ..domain.model import Referral
from ..domain.notes import (
    AddReferralNote,
    Note,
    NoteView,
    new_note,
    note_author,
    notes_log_entry,
    read_notes,
    validate_new_note,
)
from .audit import Access, DeniedAccessLog
from .handlers import Clock, IdFactory, parse_uuid, require_scope
from .notes_repository import DuplicateNoteRequest
from .pagination import PageLimits, decode_page_token, encode_page_token
from .repository import Cursor, ReferralFilter
from .unit_of_work import UnitOfWork

NOTE_ADD = "referral.note.add"
NOTE_LIST = "referral.note.list"

log = get_logger(__name__)


@dataclass(frozen=True)
class ListReferralNotes:
    referral_id: str
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class NotePage:
    notes: list[NoteView]
    next_page_token: str


async def add_referral_note(
    command: AddReferralNote,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
    new_id: IdFactory,
) -> Note:
    """Add a note, or return the one this caller's earlier call with this request id added.
    Checked in order: the values, the scope, whether the caller may see the referral
    (NOT_FOUND alike when missing), then whether it writes for one of its sides."""
    draft = validate_new_note(command)
    purpose = purpose_of_use(caller)
    attempt = Access(NOTE_ADD, str(draft.referral_id), None, purpose)
    await require_scope(caller, REFERRALS_WRITE, denials, attempt)
    referral = await _visible_referral(draft.referral_id, uow, caller, denials, attempt)
    attempt = replace(attempt, subject_member_id=referral.subject_member_id)
    author = note_author(caller, referral)
    if author is None:
        why = "only staff of either side of the referral add notes"
        await denials.record_denied(replace(attempt, reason=why))
        raise PermissionDenied(why)
    for _ in range(2):
        try:
            async with uow:
                if draft.request_id is not None:
                    existing = await uow.notes.get_by_request_id(caller.subject, draft.request_id)
                    if existing is not None:
                        if not existing.same_request(draft):
                            raise Conflict("request_id was already used for a different note")
                        repeated = f"note {existing.note_id}, repeated request"
                        await uow.record_access(replace(attempt, reason=repeated))
                        await uow.commit()
                        return existing
                note, added = new_note(
                    draft, referral, author, caller, note_id=new_id(), now=clock()
                )
                await uow.notes.add(note)
                await uow.publish(added)
                await uow.record_access(replace(attempt, reason=f"note {note.note_id}"))
                await uow.commit()
        except DuplicateNoteRequest:
            continue  # a concurrent call with this request id committed first: answer with it
        log.info(
            "referral note added", referral_id=str(note.referral_id), note_id=str(note.note_id)
        )
        return note
    raise Conflict("request_id is being used by a concurrent call: try again")


async def list_referral_notes(
    query: ListReferralNotes,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
    limits: PageLimits,
) -> NotePage:
    """One page of the referral's notes, newest first, each as the caller may read it."""
    referral_id = parse_uuid(query.referral_id)
    if query.page_size < 0:
        raise InvalidArgument(
            "the listing request is not valid",
            [FieldViolation("page_size", "must not be negative")],
        )
    # The token carries the referral as its filter, so it only serves this referral's notes.
    where = ReferralFilter(subject_member_id=f"notes:{referral_id}")
    after = decode_page_token(query.page_token, where)
    purpose = purpose_of_use(caller)
    attempt = Access(NOTE_LIST, str(referral_id), None, purpose)
    await require_scope(caller, REFERRALS_READ, denials, attempt)
    referral = await _visible_referral(referral_id, uow, caller, denials, attempt)
    size = limits.size_for(query.page_size)
    now = clock()
    async with uow:
        found = await uow.notes.list_for_referral(referral_id, after=after, limit=size + 1)
        page = found[:size]
        consents = await uow.consents.active_for_member(referral.subject_member_id)
        reading = read_notes(caller, referral, page, consents, now)
        entry = notes_log_entry(referral, reading, caller.organization_id or "", now)
        if entry is not None:
            await uow.disclosures.add(entry)
        withheld = sum(view.withheld for view in reading.views)
        why = f"{len(page)} listed, {withheld} withheld"
        if reading.consent is not None:
            why += (
                f", {len(reading.disclosed)} disclosed under consent {reading.consent.consent_id}"
            )
        await uow.record_access(
            replace(attempt, subject_member_id=referral.subject_member_id, reason=why)
        )
        await uow.commit()
    next_token = ""
    if len(found) > size:
        last = page[-1]
        next_token = encode_page_token(Cursor(last.create_time, last.note_id), where)
    return NotePage(notes=reading.views, next_page_token=next_token)


async def _visible_referral(
    referral_id: UUID,
    uow: UnitOfWork,
    caller: Principal,
    denials: DeniedAccessLog,
    attempt: Access,
) -> Referral:
    """The referral if the caller may see it; otherwise the refusal is audited and NOT_FOUND
    raised, alike whether it is missing or someone else's."""
    async with uow:
        referral = await uow.referrals.get(referral_id)
    if referral is not None and visibility_for(caller).admits(referral):
        return referral
    why = "no such referral" if referral is None else "not visible to the caller"
    member = referral.subject_member_id if referral is not None else None
    await denials.record_denied(replace(attempt, subject_member_id=member, reason=why))
    raise NotFound(f"referral {referral_id} not found")
