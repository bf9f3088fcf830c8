"""Notes kept in memory behind the port: for tests and for running the gateway alone.

It keeps what the gateway relies on (newest first, cursors tied to their referral, one
note per idempotency key); who reads which note is the referrals service's rule, tested
there and through the gateway in the integration tests. A test makes it fail with
`failures`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from peerbridge_platform.grpc import Caller

from .in_memory import decode_cursor, encode_cursor
from .notes import Note, NotePage, NoteQuery
from .referrals import PartyKind


@dataclass
class InMemoryNotes:
    # Keyed by referral, oldest first.
    notes: dict[str, list[Note]] = field(default_factory=dict)
    by_key: dict[tuple[str, str], Note] = field(default_factory=dict)
    # The next calls raise these, in order.
    failures: list[Exception] = field(default_factory=list)

    async def add_note(
        self,
        referral_id: str,
        text: str,
        shared_with_member: bool,
        *,
        caller: Caller,
        idempotency_key: str | None,
    ) -> Note:
        if self.failures:
            raise self.failures.pop(0)
        subject = caller.principal or ""
        if idempotency_key is not None and (subject, idempotency_key) in self.by_key:
            return self.by_key[(subject, idempotency_key)]
        note = Note(
            note_id=str(uuid.uuid4()),
            referral_id=referral_id,
            author_side=PartyKind.PEER_SUPPORT_PROGRAM,
            # The fake knows no organizations: the service takes the author's from the token.
            author_organization_id="",
            shared_with_member=shared_with_member,
            created_at=datetime.now(UTC),
            author_id=subject,
            text=text.strip(),
        )
        self.notes.setdefault(referral_id, []).append(note)
        if idempotency_key is not None:
            self.by_key[(subject, idempotency_key)] = note
        return note

    async def list_notes(self, query: NoteQuery, *, caller: Caller) -> NotePage:
        if self.failures:
            raise self.failures.pop(0)
        filters: list[str | None] = [query.referral_id]
        start = decode_cursor(query.cursor, filters)
        newest_first = list(reversed(self.notes.get(query.referral_id, [])))
        end = start + query.limit
        cursor = encode_cursor(end, filters) if end < len(newest_first) else None
        return NotePage(items=newest_first[start:end], next_cursor=cursor)
