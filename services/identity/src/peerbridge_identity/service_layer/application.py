"""The use cases with their dependencies bound: what every entry point calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..domain import commands
from ..domain.eligibility import EligibilityState
from ..domain.model import Certification, Client, Organization, Person, Supervision, TrainingRecord
from ..domain.patients import PatientResolved, ResolvePatient
from . import (
    credential_handlers,
    eligibility_handlers,
    organization_handlers,
    patient_handlers,
    person_handlers,
    qualification_handlers,
)
from .context import HandlerContext
from .pagination import PageLimits
from .queries import (
    EligibleSupporterPage,
    GetPerson,
    GetSupporterEligibility,
    ListEligibleSupporters,
)
from .signing_keys import SigningKeys
from .token_ports import PasswordHasher
from .unit_of_work import UnitOfWork


@dataclass(frozen=True)
class IdentityApplication:
    """Each call gets a fresh unit of work, so concurrent calls never share a transaction."""

    uow_factory: Callable[[], UnitOfWork]
    context: HandlerContext
    page_limits: PageLimits
    hasher: PasswordHasher
    # None where the process signs no tokens (tests of the other use cases).
    signing_keys: SigningKeys | None = None

    async def register_organization(self, command: commands.RegisterOrganization) -> Organization:
        return await organization_handlers.register_organization(
            command, self.uow_factory(), self.context
        )

    async def register_client(self, command: commands.RegisterClient) -> Client:
        return await organization_handlers.register_client(
            command, self.uow_factory(), self.context
        )

    async def register_person(self, command: commands.RegisterPerson) -> Person:
        return await person_handlers.register_person(command, self.uow_factory(), self.context)

    async def resolve_patient(self, command: ResolvePatient) -> PatientResolved:
        return await patient_handlers.resolve_patient(command, self.uow_factory(), self.context)

    async def get_person(self, query: GetPerson) -> Person:
        return await person_handlers.get_person(query, self.uow_factory())

    async def update_profile(self, command: commands.UpdateProfile) -> Person:
        return await person_handlers.update_profile(command, self.uow_factory(), self.context)

    async def grant_role(self, command: commands.GrantRole) -> Person:
        return await person_handlers.grant_role(command, self.uow_factory(), self.context)

    async def revoke_role(self, command: commands.RevokeRole) -> Person:
        return await person_handlers.revoke_role(command, self.uow_factory(), self.context)

    async def record_training(self, command: commands.RecordTraining) -> TrainingRecord:
        return await qualification_handlers.record_training(
            command, self.uow_factory(), self.context
        )

    async def record_certification(self, command: commands.RecordCertification) -> Certification:
        return await qualification_handlers.record_certification(
            command, self.uow_factory(), self.context
        )

    async def verify_certification(self, command: commands.VerifyCertification) -> Certification:
        return await qualification_handlers.verify_certification(
            command, self.uow_factory(), self.context
        )

    async def assign_supervisor(self, command: commands.AssignSupervisor) -> Supervision:
        return await qualification_handlers.assign_supervisor(
            command, self.uow_factory(), self.context
        )

    async def get_supporter_eligibility(self, query: GetSupporterEligibility) -> EligibilityState:
        return await eligibility_handlers.get_supporter_eligibility(
            query, self.uow_factory(), self.context
        )

    async def list_eligible_supporters(
        self, query: ListEligibleSupporters
    ) -> EligibleSupporterPage:
        return await eligibility_handlers.list_eligible_supporters(
            query, self.uow_factory(), self.context, self.page_limits
        )

    async def review_due_supporters(self, batch_size: int) -> int:
        return await eligibility_handlers.review_due_supporters(
            self.uow_factory(), self.context, batch_size
        )

    async def set_password(self, command: commands.SetPassword) -> None:
        await credential_handlers.set_password(
            command, self.uow_factory(), self.context, self.hasher
        )

    async def add_client_key(self, command: commands.AddClientKey) -> str:
        return await credential_handlers.add_client_key(command, self.uow_factory(), self.context)

    async def remove_client_key(self, command: commands.RemoveClientKey) -> None:
        await credential_handlers.remove_client_key(command, self.uow_factory())

    async def rotate_signing_key(self) -> str:
        if self.signing_keys is None:
            raise RuntimeError("this process has no signing keys")
        return await credential_handlers.rotate_signing_key(self.uow_factory(), self.signing_keys)
