"""Stored eligibility states and the request log on PostgreSQL (asyncpg)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.eligibility import EligibilityState, Reason
from ..domain.values import EligibilityStatus, ReasonCode
from ..service_layer.repository import (
    DuplicateRequestId,
    EligibilityRepository,
    RecordedRequest,
    RequestLog,
)

_STATE_COLUMNS = (
    "person_id, organization_id, status, reasons, lapses_on, review_on, evaluated_on, "
    "change_time, version"
)


def reasons_to_json(reasons: tuple[Reason, ...]) -> str:
    return json.dumps(
        [
            {
                "code": r.code.value,
                "module": r.module,
                "on": r.on.isoformat() if r.on else None,
            }
            for r in reasons
        ]
    )


def reasons_from_json(text: str) -> tuple[Reason, ...]:
    items: list[dict[str, Any]] = json.loads(text)
    return tuple(
        Reason(
            ReasonCode(item["code"]),
            item["module"],
            date.fromisoformat(item["on"]) if item["on"] else None,
        )
        for item in items
    )


def _state_from_row(row: asyncpg.Record) -> EligibilityState:
    return EligibilityState(
        person_id=row["person_id"],
        organization_id=row["organization_id"],
        status=EligibilityStatus(row["status"]),
        reasons=reasons_from_json(row["reasons"]),
        lapses_on=row["lapses_on"],
        review_on=row["review_on"],
        evaluated_on=row["evaluated_on"],
        change_time=row["change_time"],
        version=row["version"],
    )


class PostgresEligibilityRepository(EligibilityRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def get(self, person_id: UUID) -> EligibilityState | None:
        row = await self._connection.fetchrow(
            f"SELECT {_STATE_COLUMNS} FROM supporter_eligibility WHERE person_id = $1",
            person_id,
        )
        return _state_from_row(row) if row is not None else None

    async def put(self, state: EligibilityState) -> None:
        await self._connection.execute(
            f"INSERT INTO supporter_eligibility ({_STATE_COLUMNS}) "
            "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9) "
            "ON CONFLICT (person_id) DO UPDATE SET organization_id = EXCLUDED.organization_id, "
            "status = EXCLUDED.status, reasons = EXCLUDED.reasons, "
            "lapses_on = EXCLUDED.lapses_on, review_on = EXCLUDED.review_on, "
            "evaluated_on = EXCLUDED.evaluated_on, change_time = EXCLUDED.change_time, "
            "version = EXCLUDED.version",
            state.person_id,
            state.organization_id,
            state.status.value,
            reasons_to_json(state.reasons),
            state.lapses_on,
            state.review_on,
            state.evaluated_on,
            state.change_time,
            state.version,
        )

    async def lock_due(self, today: date, limit: int) -> list[UUID]:
        # The person row is the lock every writer of a supporter takes.
        rows = await self._connection.fetch(
            "SELECT e.person_id FROM supporter_eligibility e JOIN persons p USING (person_id) "
            "WHERE e.review_on <= $1 ORDER BY e.review_on, e.person_id LIMIT $2 "
            "FOR UPDATE OF p SKIP LOCKED",
            today,
            limit,
        )
        return [row["person_id"] for row in rows]

    async def list_eligible(
        self, today: date, organization_id: UUID | None, *, after: UUID | None, limit: int
    ) -> list[EligibilityState]:
        conditions = ["status <> 'ineligible'", "(lapses_on IS NULL OR lapses_on > $1)"]
        arguments: list[Any] = [today]
        if organization_id is not None:
            arguments.append(organization_id)
            conditions.append(f"organization_id = ${len(arguments)}")
        if after is not None:
            arguments.append(after)
            conditions.append(f"person_id > ${len(arguments)}")
        arguments.append(limit)
        rows = await self._connection.fetch(
            f"SELECT {_STATE_COLUMNS} FROM supporter_eligibility "
            f"WHERE {' AND '.join(conditions)} ORDER BY person_id LIMIT ${len(arguments)}",
            *arguments,
        )
        return [_state_from_row(row) for row in rows]


class PostgresRequestLog(RequestLog):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def find(self, operation: str, request_id: str) -> RecordedRequest | None:
        row = await self._connection.fetchrow(
            "SELECT fingerprint, resource_id FROM request_log "
            "WHERE operation = $1 AND request_id = $2",
            operation,
            request_id,
        )
        return RecordedRequest(row["fingerprint"], row["resource_id"]) if row else None

    async def add(
        self, operation: str, request_id: str, fingerprint: str, resource_id: UUID
    ) -> None:
        try:
            await self._connection.execute(
                "INSERT INTO request_log (operation, request_id, fingerprint, resource_id) "
                "VALUES ($1, $2, $3, $4)",
                operation,
                request_id,
                fingerprint,
                resource_id,
            )
        except asyncpg.UniqueViolationError as error:
            raise DuplicateRequestId(operation, request_id) from error
