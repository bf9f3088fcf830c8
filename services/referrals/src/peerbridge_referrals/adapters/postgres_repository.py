"""The referral repository on PostgreSQL (asyncpg), working on the unit of work's connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.access_rules import Visibility
from ..domain.model import Referral
from ..service_layer.repository import (
    Cursor,
    DuplicateRequestId,
    ReferralFilter,
    ReferralRepository,
)
from .reason_cipher import ReasonCipher
from .referral_rows import COLUMNS, SELECT_COLUMNS, referral_from_row, row_values

_REQUEST_ID_INDEX = "referrals_request_id_key"
_INSERT = (
    f"INSERT INTO referrals ({SELECT_COLUMNS}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"
)


class PostgresReferralRepository(ReferralRepository):
    """Seals each reason on the way in and opens it on the way out: never stored in plain text."""

    def __init__(self, connection: PoolConnectionProxy, cipher: ReasonCipher) -> None:
        self._connection = connection
        self._cipher = cipher

    async def add(self, referral: Referral) -> None:
        sealed_reason = self._cipher.seal(referral.referral_id, referral.reason)
        try:
            await self._connection.execute(_INSERT, *row_values(referral, sealed_reason))
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == _REQUEST_ID_INDEX and referral.request_id is not None:
                raise DuplicateRequestId(referral.request_id) from error
            raise

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

    def _referral(self, row: asyncpg.Record) -> Referral:
        reason = self._cipher.open(row["referral_id"], bytes(row["reason_ciphertext"]))
        return referral_from_row(row, reason)


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
