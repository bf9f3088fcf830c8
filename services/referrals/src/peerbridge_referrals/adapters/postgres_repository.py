"""The referral repository on PostgreSQL (asyncpg), working on the unit of work's connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.access_rules import Visibility
from ..domain.events import ReferralStatusChanged
from ..domain.model import Referral
from ..service_layer.repository import (
    Cursor,
    DuplicateRequestId,
    ReferralFilter,
    ReferralRepository,
    StaleVersion,
)
from .reason_cipher import OUTCOME, STATUS_REASON, ReasonCipher
from .referral_rows import COLUMNS, SELECT_COLUMNS, Texts, referral_from_row, row_values

_REQUEST_ID_INDEX = "referrals_request_id_key"
_INSERT = (
    f"INSERT INTO referrals ({SELECT_COLUMNS}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"
)
# Optimistic concurrency: the row changes only if it is still at the version read.
# Under READ COMMITTED a concurrent writer waits for ours, then finds no row.
_UPDATE_STATUS = """
UPDATE referrals
SET status = $3, status_reason_ciphertext = $4, status_reason_category = $5,
    outcome_ciphertext = $6, update_time = $7, version = $8
WHERE referral_id = $1 AND version = $2
"""
_INSERT_STATUS_CHANGE = """
INSERT INTO referral_status_changes (
    referral_id, version, from_status, to_status, changed_by_subject,
    changed_by_organization_id, changed_by_side, changed_by_client_id,
    status_reason_category, change_time
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


class PostgresReferralRepository(ReferralRepository):
    """Seals the free texts on the way in and opens them on the way out: never stored in plain
    text."""

    def __init__(self, connection: PoolConnectionProxy, cipher: ReasonCipher) -> None:
        self._connection = connection
        self._cipher = cipher

    async def add(self, referral: Referral) -> None:
        try:
            await self._connection.execute(_INSERT, *row_values(referral, self._sealed(referral)))
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == _REQUEST_ID_INDEX and referral.request_id is not None:
                raise DuplicateRequestId(referral.request_id) from error
            raise

    async def update_status(self, changed: ReferralStatusChanged) -> None:
        referral, actor = changed.referral, changed.changed_by
        sealed = self._sealed(referral)
        category = referral.status_reason_category
        category_value = category.value if category is not None else None
        result = await self._connection.execute(
            _UPDATE_STATUS,
            referral.referral_id,
            referral.version - 1,
            referral.status.value,
            sealed.status_reason,
            category_value,
            sealed.outcome,
            referral.update_time,
            referral.version,
        )
        if result != "UPDATE 1":
            raise StaleVersion(referral.referral_id, referral.version - 1)
        await self._connection.execute(
            _INSERT_STATUS_CHANGE,
            referral.referral_id,
            referral.version,
            changed.previous_status.value,
            referral.status.value,
            actor.subject,
            actor.organization_id,
            actor.side.value,
            actor.client_id,
            category_value,
            referral.update_time,
        )

    async def get(self, referral_id: UUID) -> Referral | None:
        row = await self._connection.fetchrow(
            f"SELECT {SELECT_COLUMNS} FROM referrals WHERE referral_id = $1", referral_id
        )
        return self._referral(row) if row is not None else None

    async def get_by_request_id(self, request_id: str) -> Referral | None:
        row = await self._connection.fetchrow(
            f"SELECT {SELECT_COLUMNS} FROM referrals WHERE request_id = $1", request_id
        )
        return self._referral(row) if row is not None else None

    async def list(
        self, where: ReferralFilter, *, after: Cursor | None, limit: int
    ) -> list[Referral]:
        conditions: list[str] = []
        arguments: list[Any] = []

        def argument(value: Any) -> str:
            arguments.append(value)
            return f"${len(arguments)}"

        if where.subject_member_id is not None:
            conditions.append(f"subject_member_id = {argument(where.subject_member_id)}")
        if where.status is not None:
            conditions.append(f"status = {argument(where.status.value)}")
        if where.visible_to is not None:
            conditions.append(_visibility_condition(where.visible_to, argument))
        if after is not None:
            # A row comparison, so the (create_time, referral_id) indexes serve the keyset.
            conditions.append(
                f"(create_time, referral_id) < ({argument(after.create_time)}, "
                f"{argument(after.referral_id)})"
            )
        where_sql = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = await self._connection.fetch(
            f"SELECT {SELECT_COLUMNS} FROM referrals {where_sql} "
            f"ORDER BY create_time DESC, referral_id DESC LIMIT {argument(limit)}",
            *arguments,
        )
        return [self._referral(row) for row in rows]

    def _sealed(self, referral: Referral) -> Texts[bytes]:
        referral_id, cipher = referral.referral_id, self._cipher
        return Texts(
            cipher.seal(referral_id, referral.reason),
            cipher.seal_optional(referral_id, referral.status_reason, STATUS_REASON),
            cipher.seal_optional(referral_id, referral.outcome, OUTCOME),
        )

    def _referral(self, row: asyncpg.Record) -> Referral:
        referral_id, cipher = row["referral_id"], self._cipher
        opened = Texts(
            cipher.open(referral_id, bytes(row["reason_ciphertext"])),
            cipher.open_optional(referral_id, row["status_reason_ciphertext"], STATUS_REASON),
            cipher.open_optional(referral_id, row["outcome_ciphertext"], OUTCOME),
        )
        return referral_from_row(row, opened)


def _visibility_condition(visible: Visibility, argument: Callable[[Any], str]) -> str:
    """One SQL condition: the referral matches at least one of what the caller may see."""
    alternatives: list[str] = []
    if visible.member_ids:
        alternatives.append(f"subject_member_id = ANY({argument(sorted(visible.member_ids))})")
    for organization, practitioner in sorted(visible.requests_of):
        alternatives.append(
            f"(requester_organization_id = {argument(organization)} "
            f"AND requester_practitioner_id = {argument(practitioner)})"
        )
    if visible.organization_ids:
        organizations = argument(sorted(visible.organization_ids))
        alternatives.append(f"requester_organization_id = ANY({organizations})")
        alternatives.append(f"recipient_organization_id = ANY({organizations})")
    # Seeing nothing is a condition too, never the absence of one.
    return f"({' OR '.join(alternatives)})" if alternatives else "false"
