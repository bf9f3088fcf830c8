"""In-memory notes, for unit tests: the promises of `PostgresNoteRepository` without sealing."""

from __future__ import annotations

from uuid import UUID

from ..domain.notes import Note
from ..service_layer.notes_repository import DuplicateNoteRequest, NoteRepository
from ..service_layer.repository import Cursor


class InMemoryNoteRepository(NoteRepository):
    """Notes written in this transaction stay in `written` until the unit of work commits
    them into `committed`."""

    def __init__(self, committed: dict[UUID, Note]) -> None:
        self._committed = committed
        self.written: dict[UUID, Note] = {}

    def _visible(self) -> dict[UUID, Note]:
        return self._committed | self.written

    async def add(self, note: Note) -> None:
        if note.request_id is not None and (
            await self.get_by_request_id(note.author_id, note.request_id)
        ):
            raise DuplicateNoteRequest(note.request_id)
        self.written[note.note_id] = note

    async def get_by_request_id(self, author_id: str, request_id: str) -> Note | None:
        return next(
            (
                n
                for n in self._visible().values()
                if n.author_id == author_id and n.request_id == request_id
            ),
            None,
        )

    async def list_for_referral(
        self, referral_id: UUID, *, after: Cursor | None, limit: int
    ) -> list[Note]:
        found = [
            n
            for n in self._visible().values()
            if n.referral_id == referral_id
            and (
                after is None or (n.create_time, n.note_id) < (after.create_time, after.referral_id)
            )
        ]
        found.sort(key=lambda n: (n.create_time, n.note_id), reverse=True)
        return found[:limit]

    def commit(self) -> None:
        self._committed.update(self.written)
        self.written = {}
