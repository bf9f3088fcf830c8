"""Loading what a request names, or the canonical error when it is not there."""

from __future__ import annotations

from uuid import UUID

from peerbridge_platform.errors import InvalidArgument, NotFound

from ..domain.checks import Violations, parse_uuid
from ..domain.model import Organization, Person
from .unit_of_work import UnitOfWork


def require_uuid(field: str, value: str) -> UUID:
    violations: Violations = []
    parsed = parse_uuid(field, value, violations)
    if parsed is None:
        raise InvalidArgument(f"{field} is not valid", violations)
    return parsed


def person_not_found(person_id: UUID) -> NotFound:
    return NotFound(f"person {person_id} not found")


async def locked_person(uow: UnitOfWork, person_id: UUID) -> Person:
    found = await uow.persons.lock([person_id])
    if person_id not in found:
        raise person_not_found(person_id)
    return found[person_id]


async def existing_organization(uow: UnitOfWork, organization_id: UUID) -> Organization:
    organization = await uow.organizations.get(organization_id)
    if organization is None:
        raise NotFound(f"organization {organization_id} not found")
    return organization
