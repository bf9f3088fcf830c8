"""Keeping each supporter's stored eligibility in step with the facts, inside a unit of work."""

from __future__ import annotations

from ..domain.eligibility import (
    Assessment,
    EligibilityState,
    SupporterFacts,
    assess,
    record_assessment,
)
from ..domain.model import Person, ProgramSettings
from ..domain.values import Role
from .context import HandlerContext
from .unit_of_work import UnitOfWork


async def load_facts(uow: UnitOfWork, person: Person) -> SupporterFacts:
    organization = (
        await uow.organizations.get(person.organization_id)
        if person.organization_id is not None
        else None
    )
    program = (organization.program_settings if organization else None) or ProgramSettings()
    return SupporterFacts(
        is_supporter=person.holds(Role.PEER_SUPPORTER),
        certifications=tuple(await uow.certifications.for_person(person.person_id)),
        training=tuple(await uow.training.for_person(person.person_id)),
        has_supervisor=await uow.supervision.get(person.person_id) is not None,
        program=program,
    )


async def assess_now(uow: UnitOfWork, person: Person, context: HandlerContext) -> Assessment:
    return assess(await load_facts(uow, person), context.today(), context.warning_days)


async def refresh_eligibility(
    uow: UnitOfWork, person: Person, context: HandlerContext
) -> EligibilityState | None:
    """Re-assess a supporter (or former supporter), store the state, publish a status change.

    The caller holds the person's lock. People who never were supporters
    have no state and get none.
    """
    previous = await uow.eligibility.get(person.person_id)
    if previous is None and not person.holds(Role.PEER_SUPPORTER):
        return None
    assessment = await assess_now(uow, person, context)
    state, changed = record_assessment(
        previous,
        assessment,
        person_id=person.person_id,
        organization_id=person.organization_id,
        now=context.now(),
    )
    await uow.eligibility.put(state)
    if changed is not None:
        await uow.publish(changed)
    return state
