"""Applying the access rules: the caller, the facts storage knows, and the audit trail.

Handlers call `enforce` where they have the facts, usually inside their
transaction; a refusal raises `Denied`, which `recording_denials` turns,
once that transaction has rolled back, into an audit record of its own and
the public error. Allowed accesses are recorded with `audit`, in the
transaction of the work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from peerbridge_platform.auth import Principal, require_principal
from peerbridge_platform.errors import DomainError, NotFound, PermissionDenied

from ..domain.access_rules import Access, Decision, PersonFacts, Verdict
from ..domain.model import Person
from ..domain.values import Role
from .unit_of_work import UnitOfWork


class Denied(Exception):
    """An access refused by a rule; carries what to audit and what to answer."""

    def __init__(self, access: Access, error: DomainError) -> None:
        super().__init__(error.message)
        self.access = access
        self.error = error


def caller() -> Principal:
    """The verified caller of the current call (Unauthenticated without one)."""
    return require_principal()


def enforce(decision: Decision, access: Access, not_found: NotFound | None = None) -> None:
    """Raise Denied unless `decision` allows; a hidden target is answered with `not_found`,
    the same error as a target that does not exist."""
    if decision.allowed:
        return
    hidden = decision.verdict is Verdict.HIDDEN
    error = (not_found or NotFound("not found")) if hidden else PermissionDenied(decision.reason)
    raise Denied(access.because(decision), error)


@asynccontextmanager
async def recording_denials(uow: UnitOfWork) -> AsyncIterator[None]:
    """Around a handler's transaction: a refusal is audited after it rolled back."""
    try:
        yield
    except Denied as denied:
        await uow.record_denied(denied.access)
        raise denied.error from None


async def authorize(uow: UnitOfWork, decision: Decision, access: Access) -> Decision:
    """`enforce` for a rule that needs no stored facts, before any transaction opens."""
    async with recording_denials(uow):
        enforce(decision, access)
    return decision


async def audit(uow: UnitOfWork, access: Access, decision: Decision) -> None:
    """Record an allowed access inside the open transaction of the work."""
    await uow.record_access(access.because(decision))


async def person_facts(uow: UnitOfWork, person: Person) -> PersonFacts:
    """The facts the rules need about `person`, read in the open transaction."""
    supervisor_id: UUID | None = None
    if person.holds(Role.PEER_SUPPORTER):
        supervision = await uow.supervision.get(person.person_id)
        supervisor_id = supervision.supervisor_id if supervision else None
    return PersonFacts(person.person_id, person.roles, person.organization_id, supervisor_id)
