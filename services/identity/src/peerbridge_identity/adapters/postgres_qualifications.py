"""Training records, certifications and supervision on PostgreSQL (asyncpg)."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.model import Certification, Supervision, TrainingRecord
from ..domain.values import VerificationStatus
from ..service_layer.repository import (
    CertificationRepository,
    SupervisionRepository,
    TrainingRepository,
)

_TRAINING_COLUMNS = "training_record_id, person_id, module, completed_on, expires_on, create_time"
_CERTIFICATION_COLUMNS = (
    "certification_id, person_id, credential_type, issuing_body, credential_number, "
    "valid_from, valid_until, verification_status, verified_by, verify_time, create_time"
)


def _training_from_row(row: asyncpg.Record) -> TrainingRecord:
    return TrainingRecord(
        training_record_id=row["training_record_id"],
        person_id=row["person_id"],
        module=row["module"],
        completed_on=row["completed_on"],
        expires_on=row["expires_on"],
        create_time=row["create_time"],
    )


class PostgresTrainingRepository(TrainingRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def add(self, record: TrainingRecord) -> None:
        await self._connection.execute(
            f"INSERT INTO training_records ({_TRAINING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",
            record.training_record_id,
            record.person_id,
            record.module,
            record.completed_on,
            record.expires_on,
            record.create_time,
        )

    async def get(self, training_record_id: UUID) -> TrainingRecord | None:
        row = await self._connection.fetchrow(
            f"SELECT {_TRAINING_COLUMNS} FROM training_records WHERE training_record_id = $1",
            training_record_id,
        )
        return _training_from_row(row) if row is not None else None

    async def for_person(self, person_id: UUID) -> list[TrainingRecord]:
        rows = await self._connection.fetch(
            f"SELECT {_TRAINING_COLUMNS} FROM training_records WHERE person_id = $1 "
            "ORDER BY completed_on, training_record_id",
            person_id,
        )
        return [_training_from_row(row) for row in rows]


def _certification_from_row(row: asyncpg.Record) -> Certification:
    return Certification(
        certification_id=row["certification_id"],
        person_id=row["person_id"],
        credential_type=row["credential_type"],
        issuing_body=row["issuing_body"],
        credential_number=row["credential_number"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        verification_status=VerificationStatus(row["verification_status"]),
        verified_by=row["verified_by"],
        verify_time=row["verify_time"],
        create_time=row["create_time"],
    )


class PostgresCertificationRepository(CertificationRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def add(self, certification: Certification) -> None:
        c = certification
        await self._connection.execute(
            f"INSERT INTO certifications ({_CERTIFICATION_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            c.certification_id,
            c.person_id,
            c.credential_type,
            c.issuing_body,
            c.credential_number,
            c.valid_from,
            c.valid_until,
            c.verification_status.value,
            c.verified_by,
            c.verify_time,
            c.create_time,
        )

    async def get(self, certification_id: UUID) -> Certification | None:
        row = await self._connection.fetchrow(
            f"SELECT {_CERTIFICATION_COLUMNS} FROM certifications WHERE certification_id = $1",
            certification_id,
        )
        return _certification_from_row(row) if row is not None else None

    async def update(self, certification: Certification) -> None:
        # Only the verification changes after a certification is recorded.
        await self._connection.execute(
            "UPDATE certifications SET verification_status = $2, verified_by = $3, "
            "verify_time = $4 WHERE certification_id = $1",
            certification.certification_id,
            certification.verification_status.value,
            certification.verified_by,
            certification.verify_time,
        )

    async def for_person(self, person_id: UUID) -> list[Certification]:
        rows = await self._connection.fetch(
            f"SELECT {_CERTIFICATION_COLUMNS} FROM certifications WHERE person_id = $1 "
            "ORDER BY valid_from, certification_id",
            person_id,
        )
        return [_certification_from_row(row) for row in rows]


class PostgresSupervisionRepository(SupervisionRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def get(self, supporter_id: UUID) -> Supervision | None:
        row = await self._connection.fetchrow(
            "SELECT supporter_id, supervisor_id, assign_time FROM supervision "
            "WHERE supporter_id = $1",
            supporter_id,
        )
        if row is None:
            return None
        return Supervision(row["supporter_id"], row["supervisor_id"], row["assign_time"])

    async def put(self, supervision: Supervision) -> None:
        await self._connection.execute(
            "INSERT INTO supervision (supporter_id, supervisor_id, assign_time) "
            "VALUES ($1, $2, $3) ON CONFLICT (supporter_id) DO UPDATE "
            "SET supervisor_id = EXCLUDED.supervisor_id, assign_time = EXCLUDED.assign_time",
            supervision.supporter_id,
            supervision.supervisor_id,
            supervision.assign_time,
        )

    async def supervises_anyone(self, supervisor_id: UUID) -> bool:
        found = await self._connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM supervision WHERE supervisor_id = $1)", supervisor_id
        )
        return bool(found)
