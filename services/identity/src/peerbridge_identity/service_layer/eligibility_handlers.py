"""Reading eligibility, and the scheduled review that notices what time changed."""

from __future__ import annotations

from uuid import UUID

from peerbridge_platform.errors import FieldViolation, InvalidArgument
from peerbridge_platform.logging import get_logger

from ..domain import access_rules as rules
from ..domain.checks import Violations, parse_optional_uuid
from ..domain.eligibility import EligibilityState
from .access import audit, authorize, caller, enforce, person_facts, recording_denials
from .context import HandlerContext
from .eligibility import assess_now, refresh_eligibility
from .lookups import person_not_found, require_uuid
from .pagination import PageLimits, decode_page_token, encode_page_token
from .queries import EligibleSupporterPage, GetSupporterEligibility, ListEligibleSupporters
from .unit_of_work import UnitOfWork

log = get_logger(__name__)


async def get_supporter_eligibility(
    query: GetSupporterEligibility, uow: UnitOfWork, context: HandlerContext
) -> EligibilityState:
    """The person's eligibility assessed for today from the stored facts (read only)."""
    person_id = require_uuid("person_id", query.person_id)
    principal = caller()
    access = rules.about_qualifications(
        principal, "eligibility.read", "eligibility", person_id, person_id
    )
    async with recording_denials(uow), uow:
        person = await uow.persons.get(person_id)
        if person is None:
            raise person_not_found(person_id)
        decision = rules.read_eligibility(principal, await person_facts(uow, person))
        enforce(decision, access, person_not_found(person_id))
        assessment = await assess_now(uow, person, context)
        stored = await uow.eligibility.get(person_id)
        await audit(uow, access, decision)
        await uow.commit()
    return EligibilityState(
        person_id=person_id,
        organization_id=person.organization_id,
        status=assessment.status,
        reasons=assessment.reasons,
        lapses_on=assessment.lapses_on,
        review_on=assessment.review_on,
        evaluated_on=assessment.evaluated_on,
        change_time=stored.change_time if stored else person.create_time,
        version=stored.version if stored else 0,
    )


async def list_eligible_supporters(
    query: ListEligibleSupporters, uow: UnitOfWork, context: HandlerContext, limits: PageLimits
) -> EligibleSupporterPage:
    """One page of supporters eligible today, by person id.

    Read from the stored states: a state whose lapse day has come is left
    out even before the scheduled review records it.
    """
    violations: Violations = []
    if query.page_size < 0:
        violations.append(FieldViolation("page_size", "must not be negative"))
    organization_id = parse_optional_uuid("organization_id", query.organization_id, violations)
    if violations:
        raise InvalidArgument("the listing request is not valid", violations)
    principal = caller()
    listing = rules.list_eligible(principal, str(organization_id) if organization_id else None)
    access = rules.about_qualifications(principal, "eligibility.list", "eligibility", None, None)
    decision = await authorize(uow, listing.decision, access)
    # Staff of a program are narrowed to their own when the request names none.
    organization_id = UUID(listing.organization_id) if listing.organization_id else None
    filters = {"organization_id": listing.organization_id}
    after = decode_page_token(query.page_token, filters)
    size = limits.size_for(query.page_size)
    async with uow:
        # One more than asked tells whether another page follows.
        found = await uow.eligibility.list_eligible(
            context.today(), organization_id, after=after, limit=size + 1
        )
        await audit(uow, access, decision)
        await uow.commit()
    page = found[:size]
    next_token = encode_page_token(page[-1].person_id, filters) if len(found) > size else ""
    return EligibleSupporterPage(supporters=page, next_page_token=next_token)


async def review_due_supporters(uow: UnitOfWork, context: HandlerContext, batch_size: int) -> int:
    """Re-assess one batch of supporters whose review day has come; returns how many.

    Each status change is stored and announced once: the new state moves the
    review day past today, so the same change is never found again.
    """
    async with uow:
        due = await uow.eligibility.lock_due(context.today(), batch_size)
        for person_id in due:
            person = await uow.persons.get(person_id)
            if person is None:
                raise RuntimeError(f"eligibility of person {person_id} without the person")
            await refresh_eligibility(uow, person, context)
        await uow.commit()
    if due:
        log.info("eligibility reviewed", supporters=len(due), today=context.today().isoformat())
    return len(due)
