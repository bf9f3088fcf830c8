"""Handlers for people: register, read, change the profile, grant and revoke roles."""

from __future__ import annotations

from uuid import UUID

from peerbridge_platform.errors import InvalidArgument
from peerbridge_platform.logging import get_logger

from ..domain import access_rules as rules
from ..domain import person_rules
from ..domain.checks import Violations, parse_choice, parse_uuid
from ..domain.commands import GrantRole, RegisterPerson, RevokeRole, UpdateProfile
from ..domain.events import PersonRegistered, ProfileUpdated
from ..domain.model import Person
from ..domain.person_rules import check_organization_fits, validate_new_person
from ..domain.profile_rules import apply_profile_change, parse_profile_change
from ..domain.values import Role
from .access import audit, authorize, caller, enforce, person_facts, recording_denials
from .context import HandlerContext
from .eligibility import refresh_eligibility
from .idempotency import create_once
from .lookups import (
    existing_organization,
    locked_person,
    person_not_found,
    require_uuid,
)
from .queries import GetPerson
from .unit_of_work import UnitOfWork

log = get_logger(__name__)


async def _load_person(uow: UnitOfWork, person_id: UUID) -> Person | None:
    return await uow.persons.get(person_id)


async def register_person(
    command: RegisterPerson, uow: UnitOfWork, context: HandlerContext
) -> Person:
    """Register a person, or return the one an earlier call with this request id registered."""
    request_id, details = validate_new_person(command)
    principal = caller()
    access = rules.about_person(principal, "person.register", None)
    decision = await authorize(
        uow, rules.register_person(principal, details.roles, details.organization_id), access
    )

    async def create(uow: UnitOfWork) -> tuple[Person, UUID]:
        if details.organization_id is not None:
            organization = await existing_organization(uow, details.organization_id)
            check_organization_fits(details.roles, organization)
        now = context.now()
        person = Person(
            person_id=context.new_id(),
            roles=details.roles,
            organization_id=details.organization_id,
            profile=details.profile,
            create_time=now,
            update_time=now,
            version=1,
        )
        await uow.persons.add(person)
        await uow.publish(PersonRegistered(person))
        await audit(uow, access.on(person.person_id, person.person_id), decision)
        # A new supporter starts INELIGIBLE, stored so the scheduled review sees them.
        await refresh_eligibility(uow, person, context)
        return person, person.person_id

    person, created = await create_once(
        uow,
        operation="register_person",
        request_id=request_id,
        details=details,
        load=_load_person,
        create=create,
    )
    if created:
        log.info(
            "person registered",
            person_id=str(person.person_id),
            roles=sorted(r.value for r in person.roles),
        )
    return person


async def get_person(query: GetPerson, uow: UnitOfWork) -> Person:
    person_id = require_uuid("person_id", query.person_id)
    principal = caller()
    access = rules.about_person(principal, "person.read", person_id)
    async with recording_denials(uow), uow:
        person = await uow.persons.get(person_id)
        if person is None:
            raise person_not_found(person_id)
        decision = rules.read_person(principal, await person_facts(uow, person))
        enforce(decision, access, person_not_found(person_id))
        await audit(uow, access, decision)
        await uow.commit()
    return person


async def update_profile(
    command: UpdateProfile, uow: UnitOfWork, context: HandlerContext
) -> Person:
    """Change the masked profile fields only; anything else in the mask is refused."""
    violations: Violations = []
    person_id = parse_uuid("person_id", command.person_id, violations)
    change = parse_profile_change(command, violations)
    if violations or person_id is None or change is None:
        raise InvalidArgument("the profile change is not valid", violations)
    principal = caller()
    access = rules.about_person(principal, "person.update_profile", person_id)
    async with recording_denials(uow), uow:
        person = await locked_person(uow, person_id)
        decision = rules.update_profile(principal, await person_facts(uow, person))
        enforce(decision, access, person_not_found(person_id))
        await audit(uow, access, decision)
        profile, changed_fields = apply_profile_change(person, change)
        if not changed_fields:
            await uow.commit()  # nothing changed, but the access stays on record
            return person
        updated = person.changed(context.now(), profile=profile)
        await uow.persons.update(updated)
        await uow.publish(ProfileUpdated(updated, changed_fields))
        await uow.commit()
    log.info("profile updated", person_id=str(person_id), changed_fields=list(changed_fields))
    return updated


async def grant_role(command: GrantRole, uow: UnitOfWork, context: HandlerContext) -> Person:
    violations: Violations = []
    role = parse_choice(Role, "role", command.role, violations)
    person_id = parse_uuid("person_id", command.person_id, violations)
    organization_id = (
        parse_uuid("organization_id", command.organization_id, violations)
        if command.organization_id
        else None
    )
    if violations or role is None or person_id is None:
        raise InvalidArgument("the grant is not valid", violations)
    access = rules.about_person(caller(), "person.grant_role", person_id)
    decision = await authorize(uow, rules.change_roles(caller(), person_id), access)
    async with uow:
        person = await locked_person(uow, person_id)
        await audit(uow, access, decision)
        # The named organization, else the person's own: a role must fit either way.
        named = organization_id or person.organization_id
        organization = await existing_organization(uow, named) if named else None
        updated, granted = person_rules.grant_role(person, role, organization, context.now())
        if granted is None:
            await uow.commit()  # nothing changed, but the access stays on record
            return person
        await uow.persons.update(updated)
        await uow.publish(granted)
        await refresh_eligibility(uow, updated, context)
        await uow.commit()
    log.info("role granted", person_id=str(person_id), role=role.value)
    return updated


async def revoke_role(command: RevokeRole, uow: UnitOfWork, context: HandlerContext) -> Person:
    violations: Violations = []
    role = parse_choice(Role, "role", command.role, violations)
    person_id = parse_uuid("person_id", command.person_id, violations)
    if violations or role is None or person_id is None:
        raise InvalidArgument("the revocation is not valid", violations)
    access = rules.about_person(caller(), "person.revoke_role", person_id)
    decision = await authorize(uow, rules.change_roles(caller(), person_id), access)
    async with uow:
        person = await locked_person(uow, person_id)
        await audit(uow, access, decision)
        supervises = role is Role.SUPERVISOR and await uow.supervision.supervises_anyone(person_id)
        updated, revoked = person_rules.revoke_role(
            person, role, supervises_anyone=supervises, now=context.now()
        )
        if revoked is None:
            await uow.commit()  # nothing changed, but the access stays on record
            return person
        await uow.persons.update(updated)
        await uow.publish(revoked)
        await refresh_eligibility(uow, updated, context)
        await uow.commit()
    log.info("role revoked", person_id=str(person_id), role=role.value)
    return updated
