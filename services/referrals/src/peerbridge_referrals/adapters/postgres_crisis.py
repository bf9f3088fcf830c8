"""The crisis repository on PostgreSQL (asyncpg), working on the unit of work's connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.crisis import (
    ClinicalContact,
    FlagDetails,
    FlagStatus,
    OnCallShift,
    RiskFlag,
    RiskFlagSource,
    RiskKind,
    RiskLevel,
    Route,
)
from ..service_layer.crisis_repository import CrisisRepository, DuplicateFlagRequest
from ..service_layer.repository import Cursor

_REQUEST_ID_INDEX = "risk_flags_request_id_key"
_CONTACT_COLUMNS = (
    "member_id",
    "program_id",
    "organization_id",
    "display_name",
    "set_by",
    "update_time",
)
_SHIFT_COLUMNS = (
    "shift_id",
    "program_id",
    "supervisor_id",
    "start_time",
    "end_time",
    "set_by",
    "create_time",
)
_FLAG_COLUMNS = (
    "flag_id",
    "request_id",
    "raised_by",
    "member_id",
    "program_id",
    "level",
    "kind",
    "source",
    "raise_time",
    "route",
    "referral_id",
    "clinic_organization_id",
    "assigned_supervisor_id",
    "status",
    "acknowledged_by",
    "acknowledge_time",
)


def _insert(table: str, columns: tuple[str, ...]) -> str:
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"


_SET_CONTACT = (
    _insert("clinical_contacts", _CONTACT_COLUMNS)
    + " ON CONFLICT (member_id, program_id) DO UPDATE SET organization_id = $3,"
    " display_name = $4, set_by = $5, update_time = $6"
)
_SELECT_FLAGS = f"SELECT {', '.join(_FLAG_COLUMNS)} FROM risk_flags"
# Only an unhandled flag is acknowledged: of two concurrent acknowledgements, one wins.
_ACKNOWLEDGE = """
UPDATE risk_flags SET status = 'acknowledged', acknowledged_by = $2, acknowledge_time = $3
WHERE flag_id = $1 AND status = 'unhandled'
"""


class PostgresCrisisRepository(CrisisRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def get_contact(self, member_id: str, program_id: str) -> ClinicalContact | None:
        row = await self._connection.fetchrow(
            f"SELECT {', '.join(_CONTACT_COLUMNS)} FROM clinical_contacts"
            " WHERE member_id = $1 AND program_id = $2",
            member_id,
            program_id,
        )
        return ClinicalContact(**dict(row)) if row is not None else None

    async def set_contact(self, contact: ClinicalContact) -> None:
        await self._connection.execute(
            _SET_CONTACT, *(getattr(contact, column) for column in _CONTACT_COLUMNS)
        )

    async def add_shift(self, shift: OnCallShift) -> None:
        await self._connection.execute(
            _insert("on_call_shifts", _SHIFT_COLUMNS),
            *(getattr(shift, column) for column in _SHIFT_COLUMNS),
        )

    async def shifts_at(self, program_id: str, at: datetime) -> list[OnCallShift]:
        rows = await self._connection.fetch(
            f"SELECT {', '.join(_SHIFT_COLUMNS)} FROM on_call_shifts"
            " WHERE program_id = $1 AND start_time <= $2 AND end_time > $2",
            program_id,
            at,
        )
        return [OnCallShift(**dict(row)) for row in rows]

    async def add_flag(self, flag: RiskFlag) -> None:
        try:
            await self._connection.execute(
                _insert("risk_flags", _FLAG_COLUMNS), *_flag_values(flag)
            )
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == _REQUEST_ID_INDEX:
                raise DuplicateFlagRequest(flag.request_id) from error
            raise

    async def get_flag(self, flag_id: UUID) -> RiskFlag | None:
        row = await self._connection.fetchrow(f"{_SELECT_FLAGS} WHERE flag_id = $1", flag_id)
        return _flag(row) if row is not None else None

    async def get_flag_by_request(self, raised_by: str, request_id: str) -> RiskFlag | None:
        row = await self._connection.fetchrow(
            f"{_SELECT_FLAGS} WHERE raised_by = $1 AND request_id = $2", raised_by, request_id
        )
        return _flag(row) if row is not None else None

    async def acknowledge(self, flag: RiskFlag) -> bool:
        result = await self._connection.execute(
            _ACKNOWLEDGE, flag.flag_id, flag.acknowledged_by, flag.acknowledge_time
        )
        return bool(result == "UPDATE 1")

    async def list_flags(
        self, program_id: str, *, unhandled_only: bool, after: Cursor | None, limit: int
    ) -> list[RiskFlag]:
        arguments: list[Any] = [program_id, limit]
        where = "program_id = $1"
        if unhandled_only:
            where += " AND status = 'unhandled'"
        if after is not None:
            arguments += [after.create_time, after.referral_id]
            where += " AND (raise_time, flag_id) < ($3, $4)"
        rows = await self._connection.fetch(
            f"{_SELECT_FLAGS} WHERE {where} ORDER BY raise_time DESC, flag_id DESC LIMIT $2",
            *arguments,
        )
        return [_flag(row) for row in rows]


def _flag_values(flag: RiskFlag) -> tuple[Any, ...]:
    details = flag.details
    return (
        flag.flag_id,
        flag.request_id,
        flag.raised_by,
        details.member_id,
        details.program_id,
        details.level.value,
        details.kind.value,
        details.source.value,
        flag.raise_time,
        flag.route.value,
        flag.referral_id,
        flag.clinic_organization_id,
        flag.assigned_supervisor_id,
        flag.status.value,
        flag.acknowledged_by,
        flag.acknowledge_time,
    )


def _flag(row: asyncpg.Record) -> RiskFlag:
    return RiskFlag(
        flag_id=row["flag_id"],
        request_id=row["request_id"],
        details=FlagDetails(
            member_id=row["member_id"],
            program_id=row["program_id"],
            level=RiskLevel(row["level"]),
            kind=RiskKind(row["kind"]),
            source=RiskFlagSource(row["source"]),
        ),
        raised_by=row["raised_by"],
        raise_time=row["raise_time"],
        route=Route(row["route"]),
        status=FlagStatus(row["status"]),
        referral_id=row["referral_id"],
        clinic_organization_id=row["clinic_organization_id"],
        assigned_supervisor_id=row["assigned_supervisor_id"],
        acknowledged_by=row["acknowledged_by"],
        acknowledge_time=row["acknowledge_time"],
    )
