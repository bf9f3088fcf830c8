"""The notes port: a referral's notes, whatever the storage (sealed at rest in PostgreSQL)."""

from __future__ import annotations

import abc
from uuid import UUID

from ..domain.notes import Note
from .repository import Cursor


class DuplicateNoteRequest(Exception):
    """The author already added a note with this request id (possibly a moment ago)."""


class NoteRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, note: Note) -> None:
        """Store `note`; DuplicateNoteRequest when its author already used its request id."""

    @abc.abstractmethod
    async def get_by_request_id(self, author_id: str, request_id: str) -> Note | None: ...

    @abc.abstractmethod
    async def list_for_referral(
        self, referral_id: UUID, *, after: Cursor | None, limit: int
    ) -> list[Note]:
        """Newest first; `after` holds the last note's time and id (in `referral_id`)."""
