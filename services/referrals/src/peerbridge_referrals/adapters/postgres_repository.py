"""The referral repository on PostgreSQL (asyncpg), working on the unit of work's connection."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.model import Referral
from ..service_layer.repository import (
    Cursor,
    DuplicateRequestId,
    ReferralFilter,
    ReferralRepository,
)
from .referral_rows import COLUMNS, SELECT_COLUMNS, referral_from_row, row_values

_REQUEST_ID_INDEX = "referrals_request_id_key"
_INSERT = (
    f"INSERT INTO referrals ({SELECT_COLUMNS}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"
)


class PostgresReferralRepository(ReferralRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def add(self, referral: Referral) -> None:
        try:
            await self._connection.execute(_INSERT, *row_values(referral))
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == _REQUEST_ID_INDEX and referral.request_id is not None:
                raise DuplicateRequestId(referral.request_id) from error
            raise

    async def get(self, referral_id: UUID) -> Referral | None:
        row = await self._connection.fetchrow(
            f"SELECT {SELECT_COLUMNS} FROM referrals WHERE referral_id = $1", referral_id
        )
        return referral_from_row(row) if row is not None else None

    async def get_by_request_id(self, request_id: str) -> Referral | None:
        row = await self._connection.fetchrow(
            f"SELECT {SELECT_COLUMNS} FROM referrals WHERE request_id = $1", request_id
        )
        return referral_from_row(row) if row is not None else None

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
        return [referral_from_row(row) for row in rows]
