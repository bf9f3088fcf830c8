"""Shared builders for the identity tests. Every person and organization here is synthetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from peerbridge_identity.domain.commands import (
    DateInput,
    ModuleInput,
    ProfileInput,
    ProgramSettingsInput,
    RecordCertification,
    RecordTraining,
    RegisterOrganization,
    RegisterPerson,
    TrainingRequirementInput,
)
from peerbridge_platform.crypto import new_key_entry

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TODAY = T0.date()
STANDARD_MODULES = ("ethics", "confidentiality", "communication_skills", "crisis_management")


class MovableClock:
    """A clock tests move by hand: the passage of time, on demand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def today(self) -> date:
        return self.now.date()


def day(value: date) -> DateInput:
    return DateInput(value.year, value.month, value.day)


def standard(code: str) -> ModuleInput:
    return ModuleInput("standard", code)


def program_command(
    modules: tuple[str, ...] = STANDARD_MODULES,
    validity_days: int = 0,
    renewal_days: int = 0,
    **changes: object,
) -> RegisterOrganization:
    fields: dict[str, object] = {
        "request_id": str(uuid4()),
        "kind": "peer_support_program",
        "name": "Harbour Peer Recovery (test)",
        "program_settings": ProgramSettingsInput(
            required_training=tuple(
                TrainingRequirementInput(standard(m), validity_days) for m in modules
            ),
            certification_renewal_days=renewal_days,
        ),
    }
    fields.update(changes)
    return RegisterOrganization(**fields)  # type: ignore[arg-type]


def clinic_command(**changes: object) -> RegisterOrganization:
    fields: dict[str, object] = {
        "request_id": str(uuid4()),
        "kind": "clinic",
        "name": "Northside Health Clinic (test)",
        "program_settings": None,
    }
    fields.update(changes)
    return RegisterOrganization(**fields)  # type: ignore[arg-type]


def profile_input(**changes: str) -> ProfileInput:
    fields = {
        "display_name": "Sam (test)",
        "contact_preference": "in_app",
        "language": "en-US",
        "time_zone": "America/Chicago",
        "age_band": "",
    }
    fields.update(changes)
    return ProfileInput(**fields)


def person_command(
    roles: tuple[str, ...] = ("member",),
    organization_id: UUID | str | None = None,
    profile: ProfileInput | None = None,
    **changes: object,
) -> RegisterPerson:
    fields: dict[str, object] = {
        "request_id": str(uuid4()),
        "roles": roles,
        "organization_id": str(organization_id) if organization_id else "",
        "profile": profile if profile is not None else profile_input(),
    }
    fields.update(changes)
    return RegisterPerson(**fields)  # type: ignore[arg-type]


def training_command(
    person_id: UUID, module: str, completed_on: date, expires_on: date | None = None
) -> RecordTraining:
    return RecordTraining(
        request_id=str(uuid4()),
        person_id=str(person_id),
        module=standard(module),
        completed_on=day(completed_on),
        expires_on=day(expires_on) if expires_on else None,
    )


def certification_command(
    person_id: UUID, valid_from: date, valid_until: date, **changes: object
) -> RecordCertification:
    fields: dict[str, object] = {
        "request_id": str(uuid4()),
        "person_id": str(person_id),
        "credential_type": "IC&RC Peer Recovery (PR)",
        "issuing_body": "Synthetic Certification Board",
        "credential_number": "PR-TEST-0001",
        "valid_from": day(valid_from),
        "valid_until": day(valid_until),
    }
    fields.update(changes)
    return RecordCertification(**fields)  # type: ignore[arg-type]


class Build:
    """The builders above, handed to tests as the `build` fixture (test modules cannot
    import one another)."""

    T0 = T0
    TODAY = TODAY
    STANDARD_MODULES = STANDARD_MODULES
    MovableClock = MovableClock
    day = staticmethod(day)
    standard = staticmethod(standard)
    program = staticmethod(program_command)
    clinic = staticmethod(clinic_command)
    profile = staticmethod(profile_input)
    person = staticmethod(person_command)
    training = staticmethod(training_command)
    certification = staticmethod(certification_command)


@pytest.fixture
def build() -> type[Build]:
    return Build


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="session")
def encryption_keys() -> str:
    """A PEERBRIDGE_ENCRYPTION_KEYS value with one fresh key, for this test run only."""
    return new_key_entry("test1")
