"""Referral notes on PostgreSQL, sealed at rest with the service's keyring, and their
start-up resealing under the active key.

A note's text is sealed by the referrals' `ReasonCipher`, bound to its referral id
and to a field naming the note (`note:<note id>`): a sealed text copied onto
another note, or another referral, does not open there.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.notes import Note
from ..domain.values import PartyKind
from ..service_layer.notes_repository import DuplicateNoteRequest, NoteRepository
from ..service_layer.repository import Cursor
from .reason_cipher import ReasonCipher
from .reason_sealing import BATCH, ResealReport, log_reseal_report, try_reseal

_REQUEST_ID_INDEX = "referral_notes_request_id_key"
_COLUMNS = (
    "note_id, referral_id, request_id, author_id, author_organization_id, author_side, "
    "shared_with_member, text_ciphertext, create_time"
)
_SELECT = f"SELECT {_COLUMNS} FROM referral_notes"
_INSERT = f"INSERT INTO referral_notes ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
_FIRST_ID = UUID(int=0)
# Notes sealed under another key than the active one (their header differs).
_NOT_UNDER_ACTIVE_KEY = """
SELECT note_id, referral_id, text_ciphertext FROM referral_notes
WHERE note_id > $1 AND substring(text_ciphertext FROM 1 FOR $2) <> $3
ORDER BY note_id LIMIT $4
"""
# Compare-and-set: a note another replica resealed meanwhile is left as it is.
_RESEAL = (
    "UPDATE referral_notes SET text_ciphertext = $3 WHERE note_id = $1 AND text_ciphertext = $2"
)


def note_field(note_id: UUID) -> str:
    """The field a note's text is sealed for, next to its referral id."""
    return f"note:{note_id}"


class PostgresNoteRepository(NoteRepository):
    def __init__(self, connection: PoolConnectionProxy, cipher: ReasonCipher) -> None:
        self._connection = connection
        self._cipher = cipher

    async def add(self, note: Note) -> None:
        sealed = self._cipher.seal(note.referral_id, note.text, note_field(note.note_id))
        try:
            await self._connection.execute(
                _INSERT,
                note.note_id,
                note.referral_id,
                note.request_id,
                note.author_id,
                note.author_organization_id,
                note.author_side.value,
                note.shared_with_member,
                sealed,
                note.create_time,
            )
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == _REQUEST_ID_INDEX:
                raise DuplicateNoteRequest(note.request_id) from error
            raise

    async def get_by_request_id(self, author_id: str, request_id: str) -> Note | None:
        row = await self._connection.fetchrow(
            f"{_SELECT} WHERE author_id = $1 AND request_id = $2", author_id, request_id
        )
        return self._note(row) if row is not None else None

    async def list_for_referral(
        self, referral_id: UUID, *, after: Cursor | None, limit: int
    ) -> list[Note]:
        arguments: list[Any] = [referral_id, limit]
        keyset = ""
        if after is not None:
            arguments += [after.create_time, after.referral_id]
            keyset = "AND (create_time, note_id) < ($3, $4)"
        rows = await self._connection.fetch(
            f"""{_SELECT} WHERE referral_id = $1 {keyset}
            ORDER BY create_time DESC, note_id DESC LIMIT $2""",
            *arguments,
        )
        return [self._note(row) for row in rows]

    def _note(self, row: asyncpg.Record) -> Note:
        note_id, referral_id = row["note_id"], row["referral_id"]
        return Note(
            note_id=note_id,
            referral_id=referral_id,
            request_id=row["request_id"],
            author_id=row["author_id"],
            author_organization_id=row["author_organization_id"],
            author_side=PartyKind(row["author_side"]),
            shared_with_member=row["shared_with_member"],
            text=self._cipher.open(referral_id, bytes(row["text_ciphertext"]), note_field(note_id)),
            create_time=row["create_time"],
        )


async def reseal_notes(
    pool: asyncpg.Pool, cipher: ReasonCipher, batch: int = BATCH
) -> ResealReport:
    """Reseal under the active key every note sealed under another one, in batches.

    Notes under a key no longer in the keyring (or that do not authenticate) are
    counted and left untouched, as reasons are.
    """
    report = ResealReport()
    after, prefix = _FIRST_ID, cipher.active_prefix
    while rows := await pool.fetch(_NOT_UNDER_ACTIVE_KEY, after, len(prefix), prefix, batch):
        updates = []
        for row in rows:
            note_id, referral_id = row["note_id"], row["referral_id"]
            sealed = bytes(row["text_ciphertext"])
            resealed = try_reseal(report, cipher, referral_id, sealed, note_field(note_id))
            if resealed is not None:
                updates.append((note_id, sealed, resealed))
        await pool.executemany(_RESEAL, updates)
        report.resealed += len(updates)
        after = rows[-1]["note_id"]
    return report


async def reseal_notes_at_start(pool: asyncpg.Pool, cipher: ReasonCipher) -> ResealReport:
    """The start-up pass: reseal, and log how many notes moved and which could not."""
    report = await reseal_notes(pool, cipher)
    log_reseal_report(report, "referral notes")
    return report
