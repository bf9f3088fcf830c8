"""Organizations, persons and partner clients on PostgreSQL (asyncpg), on the unit of work's
connection."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.model import (
    Client,
    Organization,
    Person,
    Profile,
    ProgramSettings,
    TrainingRequirement,
)
from ..domain.values import AgeBand, ClientKind, ContactPreference, OrganizationKind, Role
from ..service_layer.repository import (
    ClientRepository,
    OrganizationRepository,
    PersonRepository,
    StaleWrite,
)

_PERSON_COLUMNS = (
    "person_id, roles, organization_id, display_name, contact_preference, language, "
    "time_zone, age_band, create_time, update_time, version"
)


class PostgresOrganizationRepository(OrganizationRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def add(self, organization: Organization) -> None:
        settings = organization.program_settings
        await self._connection.execute(
            "INSERT INTO organizations (organization_id, kind, name, "
            "certification_renewal_days, create_time) VALUES ($1, $2, $3, $4, $5)",
            organization.organization_id,
            organization.kind.value,
            organization.name,
            settings.certification_renewal_days if settings else None,
            organization.create_time,
        )
        if settings and settings.required_training:
            await self._connection.executemany(
                "INSERT INTO program_training_requirements (organization_id, module, "
                "validity_days) VALUES ($1, $2, $3)",
                [
                    (organization.organization_id, r.module, r.validity_days)
                    for r in settings.required_training
                ],
            )

    async def get(self, organization_id: UUID) -> Organization | None:
        row = await self._connection.fetchrow(
            "SELECT organization_id, kind, name, certification_renewal_days, create_time "
            "FROM organizations WHERE organization_id = $1",
            organization_id,
        )
        if row is None:
            return None
        kind = OrganizationKind(row["kind"])
        settings: ProgramSettings | None = None
        if kind is OrganizationKind.PEER_SUPPORT_PROGRAM:
            requirements = await self._connection.fetch(
                "SELECT module, validity_days FROM program_training_requirements "
                "WHERE organization_id = $1 ORDER BY module",
                organization_id,
            )
            settings = ProgramSettings(
                required_training=tuple(
                    TrainingRequirement(r["module"], r["validity_days"]) for r in requirements
                ),
                certification_renewal_days=row["certification_renewal_days"],
            )
        return Organization(
            organization_id=row["organization_id"],
            kind=kind,
            name=row["name"],
            program_settings=settings,
            create_time=row["create_time"],
        )


def _person_values(person: Person) -> tuple[object, ...]:
    profile = person.profile
    return (
        person.person_id,
        sorted(role.value for role in person.roles),
        person.organization_id,
        profile.display_name,
        profile.contact_preference.value if profile.contact_preference else None,
        profile.language,
        profile.time_zone,
        profile.age_band.value if profile.age_band else None,
        person.create_time,
        person.update_time,
        person.version,
    )


def _person_from_row(row: asyncpg.Record) -> Person:
    contact, age_band = row["contact_preference"], row["age_band"]
    return Person(
        person_id=row["person_id"],
        roles=frozenset(Role(value) for value in row["roles"]),
        organization_id=row["organization_id"],
        profile=Profile(
            display_name=row["display_name"],
            language=row["language"],
            time_zone=row["time_zone"],
            contact_preference=ContactPreference(contact) if contact else None,
            age_band=AgeBand(age_band) if age_band else None,
        ),
        create_time=row["create_time"],
        update_time=row["update_time"],
        version=row["version"],
    )


class PostgresPersonRepository(PersonRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def add(self, person: Person) -> None:
        await self._connection.execute(
            f"INSERT INTO persons ({_PERSON_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            *_person_values(person),
        )

    async def get(self, person_id: UUID) -> Person | None:
        row = await self._connection.fetchrow(
            f"SELECT {_PERSON_COLUMNS} FROM persons WHERE person_id = $1", person_id
        )
        return _person_from_row(row) if row is not None else None

    async def lock(self, person_ids: Iterable[UUID]) -> dict[UUID, Person]:
        rows = await self._connection.fetch(
            f"SELECT {_PERSON_COLUMNS} FROM persons WHERE person_id = ANY($1::uuid[]) "
            "ORDER BY person_id FOR UPDATE",
            sorted(set(person_ids)),
        )
        return {row["person_id"]: _person_from_row(row) for row in rows}

    async def update(self, person: Person) -> None:
        values = _person_values(person)
        # Every column but create_time, which never changes.
        status = await self._connection.execute(
            "UPDATE persons SET roles = $2, organization_id = $3, display_name = $4, "
            "contact_preference = $5, language = $6, time_zone = $7, age_band = $8, "
            "update_time = $9, version = $10 WHERE person_id = $1 AND version = $10 - 1",
            *values[:8],
            *values[9:],
        )
        if status != "UPDATE 1":
            raise StaleWrite(f"person {person.person_id} changed since it was read")


class PostgresClientRepository(ClientRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def add(self, client: Client) -> None:
        await self._connection.execute(
            "INSERT INTO clients (client_id, organization_id, kind, display_name, scopes, "
            "create_time) VALUES ($1, $2, $3, $4, $5, $6)",
            client.client_id,
            client.organization_id,
            client.kind.value,
            client.display_name,
            list(client.scopes),
            client.create_time,
        )

    async def get(self, client_id: UUID) -> Client | None:
        row = await self._connection.fetchrow(
            "SELECT client_id, organization_id, kind, display_name, scopes, create_time "
            "FROM clients WHERE client_id = $1",
            client_id,
        )
        return client_from_row(row) if row else None


def client_from_row(row: asyncpg.Record) -> Client:
    return Client(
        client_id=row["client_id"],
        organization_id=row["organization_id"],
        kind=ClientKind(row["kind"]),
        display_name=row["display_name"],
        scopes=tuple(row["scopes"]),
        create_time=row["create_time"],
    )
