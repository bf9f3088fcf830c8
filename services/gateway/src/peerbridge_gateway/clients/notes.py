"""The notes port: free-text notes on a referral, as the gateway asks the referrals service
for them, in its own types.

Who reads which note is the service's rule (a clinic gets the program's notes only under
the member's consent); a note it withholds arrives without its text or author, with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from peerbridge_platform.grpc import Caller

from .referrals import PartyKind


@dataclass(frozen=True)
class Note:
    note_id: str
    referral_id: str
    author_side: PartyKind
    author_organization_id: str
    shared_with_member: bool
    created_at: datetime
    # None when withheld.
    author_id: str | None = None
    text: str | None = None
    withheld_reason: str | None = None

    @property
    def withheld(self) -> bool:
        return self.withheld_reason is not None


@dataclass(frozen=True)
class NoteQuery:
    referral_id: str
    limit: int
    cursor: str | None = None


@dataclass(frozen=True)
class NotePage:
    items: list[Note]
    next_cursor: str | None


class NotesClient(Protocol):
    """Referral notes in the referrals service. Failures raise `ServiceError`."""

    async def add_note(
        self,
        referral_id: str,
        text: str,
        shared_with_member: bool,
        *,
        caller: Caller,
        idempotency_key: str | None,
    ) -> Note:
        """Add a note; one `idempotency_key` of one caller always yields the same note."""
        ...

    async def list_notes(self, query: NoteQuery, *, caller: Caller) -> NotePage: ...
