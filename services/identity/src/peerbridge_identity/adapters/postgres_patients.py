"""Clinics' patient identifiers on PostgreSQL (asyncpg), on the unit of work's connection."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.patients import PatientLink
from ..service_layer.repository import IdentifierTaken, PatientLinkRepository


class PostgresPatientLinkRepository(PatientLinkRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def system_owner(self, system: str) -> UUID | None:
        owner: UUID | None = await self._connection.fetchval(
            "SELECT organization_id FROM patient_identifier_systems WHERE system = $1", system
        )
        return owner

    async def claim_system(self, system: str, organization_id: UUID, now: datetime) -> None:
        try:
            await self._connection.execute(
                "INSERT INTO patient_identifier_systems (system, organization_id, claim_time) "
                "VALUES ($1, $2, $3)",
                system,
                organization_id,
                now,
            )
        except asyncpg.UniqueViolationError:
            raise IdentifierTaken(system) from None

    async def find(self, system: str, value: str) -> PatientLink | None:
        row = await self._connection.fetchrow(
            "SELECT system, value, assigning_organization_id, person_id, enrolled, create_time "
            "FROM patient_identifiers WHERE system = $1 AND value = $2",
            system,
            value,
        )
        return PatientLink(**dict(row)) if row is not None else None

    async def add(self, link: PatientLink) -> None:
        try:
            await self._connection.execute(
                "INSERT INTO patient_identifiers (system, value, assigning_organization_id, "
                "person_id, enrolled, create_time) VALUES ($1, $2, $3, $4, $5, $6)",
                link.system,
                link.value,
                link.assigning_organization_id,
                link.person_id,
                link.enrolled,
                link.create_time,
            )
        except asyncpg.UniqueViolationError:
            raise IdentifierTaken(link.system) from None
