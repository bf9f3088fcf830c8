"""The identity aggregates and records, as immutable values.

Training modules are identified by a code: a StandardModule value, or a code
a program defines for itself (never the name of a standard module).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID

from .values import (
    AgeBand,
    ClientKind,
    ContactPreference,
    OrganizationKind,
    Role,
    StandardModule,
    VerificationDecision,
    VerificationStatus,
)

ModuleCode = str


def is_standard_module(code: ModuleCode) -> bool:
    return code in StandardModule.__members__.values()


@dataclass(frozen=True)
class TrainingRequirement:
    module: ModuleCode
    # Days a completion counts; None: it does not expire by the program's rule.
    validity_days: int | None = None


@dataclass(frozen=True)
class ProgramSettings:
    # Sorted by module code, so equal settings compare equal.
    required_training: tuple[TrainingRequirement, ...] = ()
    # Days after valid_from that a certification counts at most; None: its own dates decide.
    certification_renewal_days: int | None = None


@dataclass(frozen=True)
class OrganizationDetails:
    """Everything a register request decides; retries must carry equal details."""

    kind: OrganizationKind
    name: str
    program_settings: ProgramSettings | None


@dataclass(frozen=True)
class Organization:
    organization_id: UUID
    kind: OrganizationKind
    name: str
    program_settings: ProgramSettings | None
    create_time: datetime

    @property
    def details(self) -> OrganizationDetails:
        return OrganizationDetails(self.kind, self.name, self.program_settings)

    @property
    def required_training(self) -> tuple[TrainingRequirement, ...]:
        return self.program_settings.required_training if self.program_settings else ()


@dataclass(frozen=True)
class Profile:
    display_name: str
    language: str
    time_zone: str
    contact_preference: ContactPreference | None = None
    age_band: AgeBand | None = None


# The profile fields a person may change, by their name in the API.
PROFILE_FIELDS = ("display_name", "contact_preference", "language", "time_zone", "age_band")


@dataclass(frozen=True)
class PersonDetails:
    """Everything a register request decides; retries must carry equal details."""

    roles: frozenset[Role]
    organization_id: UUID | None
    profile: Profile


@dataclass(frozen=True)
class Person:
    person_id: UUID
    roles: frozenset[Role]
    organization_id: UUID | None
    profile: Profile
    create_time: datetime
    update_time: datetime
    version: int

    @property
    def details(self) -> PersonDetails:
        return PersonDetails(self.roles, self.organization_id, self.profile)

    def holds(self, role: Role) -> bool:
        return role in self.roles

    def changed(self, now: datetime, **changes: object) -> Person:
        """This person with `changes`, a new update time and the next version."""
        return replace(self, update_time=now, version=self.version + 1, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ClientDetails:
    organization_id: UUID
    kind: ClientKind
    display_name: str
    scopes: tuple[str, ...]  # sorted, distinct


@dataclass(frozen=True)
class Client:
    client_id: UUID
    organization_id: UUID
    kind: ClientKind
    display_name: str
    scopes: tuple[str, ...]
    create_time: datetime

    @property
    def details(self) -> ClientDetails:
        return ClientDetails(self.organization_id, self.kind, self.display_name, self.scopes)


@dataclass(frozen=True)
class TrainingDetails:
    person_id: UUID
    module: ModuleCode
    completed_on: date
    expires_on: date | None


@dataclass(frozen=True)
class TrainingRecord:
    training_record_id: UUID
    person_id: UUID
    module: ModuleCode
    completed_on: date
    expires_on: date | None
    create_time: datetime

    @property
    def details(self) -> TrainingDetails:
        return TrainingDetails(self.person_id, self.module, self.completed_on, self.expires_on)


@dataclass(frozen=True)
class CertificationDetails:
    person_id: UUID
    credential_type: str
    issuing_body: str
    credential_number: str
    valid_from: date
    valid_until: date  # the last day it is valid


@dataclass(frozen=True)
class Certification:
    certification_id: UUID
    person_id: UUID
    credential_type: str
    issuing_body: str
    credential_number: str
    valid_from: date
    valid_until: date
    verification_status: VerificationStatus
    verified_by: UUID | None
    verify_time: datetime | None
    create_time: datetime

    @property
    def details(self) -> CertificationDetails:
        return CertificationDetails(
            self.person_id,
            self.credential_type,
            self.issuing_body,
            self.credential_number,
            self.valid_from,
            self.valid_until,
        )

    def decided(self, decision: VerificationDecision, by: UUID, now: datetime) -> Certification:
        return replace(
            self,
            verification_status=VerificationStatus(decision.value),
            verified_by=by,
            verify_time=now,
        )


@dataclass(frozen=True)
class Supervision:
    supporter_id: UUID
    supervisor_id: UUID
    assign_time: datetime
