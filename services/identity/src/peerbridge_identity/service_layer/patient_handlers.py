"""ResolvePatient: a clinic's patient identifier to its member, enrolling one if none."""

from __future__ import annotations

from uuid import UUID

from peerbridge_platform.logging import get_logger

from ..domain import patients
from ..domain.events import PersonRegistered
from ..domain.patients import PatientLink, PatientRequest, PatientResolved, Resolution
from .access import audit, caller, enforce, recording_denials
from .context import HandlerContext
from .repository import IdentifierTaken
from .unit_of_work import UnitOfWork

log = get_logger(__name__)

# A lost race means the other request committed the link: the next attempt reads it.
_ATTEMPTS = 3


async def resolve_patient(
    command: patients.ResolvePatient, uow: UnitOfWork, context: HandlerContext
) -> PatientResolved:
    request = patients.validate_resolve(command, context.today())
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await _resolve_once(request, uow, context)
        except IdentifierTaken:
            if attempt == _ATTEMPTS:
                raise
            log.info("patient identifier linked concurrently; reading it again", attempt=attempt)
    raise AssertionError("unreachable")


async def _resolve_once(
    request: PatientRequest, uow: UnitOfWork, context: HandlerContext
) -> PatientResolved:
    principal = caller()
    organization_id = _organization_of(principal.organization_id)
    access = patients.about_patient()
    async with recording_denials(uow), uow:
        organization = await uow.organizations.get(organization_id) if organization_id else None
        owner = await uow.patients.system_owner(request.system)
        decision = patients.resolve_patient(
            principal, organization.kind if organization else None, owner
        )
        enforce(decision, access)
        if organization_id is None:
            raise AssertionError("the rule allows callers of an organization only")
        if owner is None:
            await uow.patients.claim_system(request.system, organization_id, context.now())
        link = await uow.patients.find(request.system, request.value)
        if link is not None:
            await audit(uow, patients.about_patient(link.person_id), decision)
            await uow.commit()
            return PatientResolved(link.person_id, Resolution.LINKED)
        member = await _enrol(request, organization_id, uow, context)
        await audit(uow, patients.about_patient(member), decision)
        await uow.commit()
    log.info("patient enrolled", person_id=str(member))
    return PatientResolved(member, Resolution.ENROLLED)


async def _enrol(
    request: PatientRequest, clinic_id: UUID, uow: UnitOfWork, context: HandlerContext
) -> UUID:
    program = await uow.organizations.get(request.program_id) if request.program_id else None
    program_id = patients.check_enrolment_program(
        request.program_id, program.kind if program else None
    )
    now = context.now()
    person = patients.new_member(request, context.new_id(), program_id, now)
    await uow.persons.add(person)
    await uow.patients.add(
        PatientLink(request.system, request.value, clinic_id, person.person_id, True, now)
    )
    await uow.publish(PersonRegistered(person))
    return person.person_id


def _organization_of(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None
