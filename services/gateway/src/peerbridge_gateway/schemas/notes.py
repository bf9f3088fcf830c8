"""Referral notes as JSON."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ..clients.notes import Note, NotePage, NoteQuery
from ..clients.referrals import PartyKind
from .referrals import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

_EXAMPLE: dict[str, JsonValue] = {
    "text": "Talked through the first week of treatment; asked about evening appointments.",
    "shared_with_member": False,
}


class NoteIn(BaseModel):
    """A note to add. Its length (1 to 8000 characters once surrounding white space is
    removed) is the service's to check: a 400 names `text`. Unknown fields are refused."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [_EXAMPLE]}
    )

    text: str = Field(description="The note (protected: encrypted at rest, never logged).")
    shared_with_member: bool = Field(
        default=False, description="Whether the member the referral is about may read it."
    )


class NoteListQuery(BaseModel):
    """Query parameters of a referral's notes; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(
        default=None, min_length=1, description="`next_cursor` of the previous page."
    )

    def to_port(self, referral_id: str) -> NoteQuery:
        return NoteQuery(referral_id=referral_id, limit=self.limit, cursor=self.cursor)


class NoteOut(BaseModel):
    """A note as the caller may read it. A withheld note keeps its id, side, organization
    and time; `text` and `author_id` are null and `withheld_reason` says why."""

    note_id: str
    referral_id: str
    author_side: PartyKind = Field(description="Which side of the referral wrote it.")
    author_organization_id: str
    author_id: str | None
    shared_with_member: bool
    created_at: datetime
    text: str | None
    withheld: bool
    withheld_reason: str | None = Field(
        description="Why the text is withheld, e.g. no consent of the member covers it."
    )

    @classmethod
    def from_port(cls, note: Note) -> NoteOut:
        return cls(
            note_id=note.note_id,
            referral_id=note.referral_id,
            author_side=note.author_side,
            author_organization_id=note.author_organization_id,
            author_id=note.author_id,
            shared_with_member=note.shared_with_member,
            created_at=note.created_at,
            text=note.text,
            withheld=note.withheld,
            withheld_reason=note.withheld_reason,
        )


class NotePageOut(BaseModel):
    """One page of a referral's notes, newest first; `next_cursor` is null on the last page."""

    items: list[NoteOut]
    next_cursor: str | None

    @classmethod
    def from_port(cls, page: NotePage) -> NotePageOut:
        return cls(items=[NoteOut.from_port(n) for n in page.items], next_cursor=page.next_cursor)
