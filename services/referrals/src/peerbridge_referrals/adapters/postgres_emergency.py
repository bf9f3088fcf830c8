"""Emergency disclosures on PostgreSQL (migration 0011): the nature of the emergency and the
review note sealed like a referral's reason, bound to the record's id and field."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.emergency import EmergencyDisclosure
from ..service_layer.emergency_repository import ConcurrentReview, EmergencyDisclosureRepository
from ..service_layer.repository import Cursor, DuplicateRequestId
from .reason_cipher import ReasonCipher

NATURE = "nature_of_emergency"
REVIEW_NOTE = "review_note"

_INSERT = """
INSERT INTO emergency_disclosures (
    emergency_disclosure_id, request_id, referral_id, subject_member_id,
    recipient_person_id, recipient_organization_id, recipient_facility,
    disclosing_organization_id, disclosed_at, nature_ciphertext
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""

# Only an unreviewed record is marked: a concurrent review keeps the first.
_REVIEW = """
UPDATE emergency_disclosures
SET review_time = $2, reviewed_by = $3, review_note_ciphertext = $4
WHERE emergency_disclosure_id = $1 AND review_time IS NULL
"""


class PostgresEmergencyDisclosureRepository(EmergencyDisclosureRepository):
    def __init__(self, connection: PoolConnectionProxy, cipher: ReasonCipher) -> None:
        self._connection = connection
        self._cipher = cipher

    async def add(self, record: EmergencyDisclosure) -> None:
        record_id = record.emergency_disclosure_id
        try:
            await self._connection.execute(
                _INSERT,
                record_id,
                record.request_id,
                record.referral_id,
                record.subject_member_id,
                record.recipient_person_id,
                record.recipient_organization_id,
                record.recipient_facility,
                record.disclosing_organization_id,
                record.disclosed_at,
                self._cipher.seal(record_id, record.nature_of_emergency, NATURE),
            )
        except asyncpg.UniqueViolationError as error:
            raise DuplicateRequestId(record.request_id or "") from error

    async def get(self, emergency_disclosure_id: UUID) -> EmergencyDisclosure | None:
        row = await self._connection.fetchrow(
            "SELECT * FROM emergency_disclosures WHERE emergency_disclosure_id = $1",
            emergency_disclosure_id,
        )
        return None if row is None else self._record(row)

    async def get_by_request_id(
        self, recipient_person_id: str, request_id: str
    ) -> EmergencyDisclosure | None:
        row = await self._connection.fetchrow(
            "SELECT * FROM emergency_disclosures"
            " WHERE recipient_person_id = $1 AND request_id = $2",
            recipient_person_id,
            request_id,
        )
        return None if row is None else self._record(row)

    async def mark_reviewed(self, record: EmergencyDisclosure) -> None:
        assert record.review_note is not None  # reviewed in the domain
        record_id = record.emergency_disclosure_id
        status = await self._connection.execute(
            _REVIEW,
            record_id,
            record.review_time,
            record.reviewed_by,
            self._cipher.seal(record_id, record.review_note, REVIEW_NOTE),
        )
        if status != "UPDATE 1":
            raise ConcurrentReview(str(record_id))

    async def list_for_program(
        self,
        organization_id: str,
        *,
        unreviewed_only: bool,
        after: Cursor | None,
        limit: int,
    ) -> list[EmergencyDisclosure]:
        arguments: list[Any] = [organization_id, unreviewed_only, limit]
        keyset = ""
        if after is not None:
            arguments += [after.create_time, after.referral_id]
            keyset = "AND (disclosed_at, emergency_disclosure_id) < ($4, $5)"
        rows = await self._connection.fetch(
            f"""SELECT * FROM emergency_disclosures
            WHERE disclosing_organization_id = $1
              AND (NOT $2 OR review_time IS NULL)
              {keyset}
            ORDER BY disclosed_at DESC, emergency_disclosure_id DESC LIMIT $3""",
            *arguments,
        )
        return [self._record(row) for row in rows]

    def _record(self, row: asyncpg.Record) -> EmergencyDisclosure:
        record_id = row["emergency_disclosure_id"]
        return EmergencyDisclosure(
            emergency_disclosure_id=record_id,
            request_id=row["request_id"],
            referral_id=row["referral_id"],
            subject_member_id=row["subject_member_id"],
            recipient_person_id=row["recipient_person_id"],
            recipient_organization_id=row["recipient_organization_id"],
            recipient_facility=row["recipient_facility"],
            disclosing_organization_id=row["disclosing_organization_id"],
            disclosed_at=row["disclosed_at"],
            nature_of_emergency=self._cipher.open(
                record_id, bytes(row["nature_ciphertext"]), NATURE
            ),
            review_time=row["review_time"],
            reviewed_by=row["reviewed_by"],
            review_note=self._cipher.open_optional(
                record_id, row["review_note_ciphertext"], REVIEW_NOTE
            ),
        )
