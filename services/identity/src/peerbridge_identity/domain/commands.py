"""Commands: orders from outside, in plain values, not yet checked.

Enumerations arrive as their lower-case names ("" when the caller left them
unset, a number's text when it is unknown), so every entry point speaks the
same language and the rules report every bad field at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class DateInput:
    year: int
    month: int
    day: int


@dataclass(frozen=True)
class ModuleInput:
    kind: Literal["standard", "program_defined"]
    # A StandardModule name for "standard", the program's own code otherwise.
    code: str


@dataclass(frozen=True)
class TrainingRequirementInput:
    module: ModuleInput | None
    validity_days: int = 0


@dataclass(frozen=True)
class ProgramSettingsInput:
    required_training: tuple[TrainingRequirementInput, ...] = ()
    certification_renewal_days: int = 0


@dataclass(frozen=True)
class RegisterOrganization:
    request_id: str
    kind: str
    name: str
    program_settings: ProgramSettingsInput | None = None


@dataclass(frozen=True)
class ProfileInput:
    display_name: str = ""
    contact_preference: str = ""
    language: str = ""
    time_zone: str = ""
    age_band: str = ""


@dataclass(frozen=True)
class RegisterPerson:
    request_id: str
    roles: tuple[str, ...]
    organization_id: str
    profile: ProfileInput | None


@dataclass(frozen=True)
class UpdateProfile:
    person_id: str
    profile: ProfileInput | None
    # Field mask paths, as the caller sent them.
    update_mask: tuple[str, ...]


@dataclass(frozen=True)
class GrantRole:
    person_id: str
    role: str
    organization_id: str = ""


@dataclass(frozen=True)
class RevokeRole:
    person_id: str
    role: str


@dataclass(frozen=True)
class RegisterClient:
    request_id: str
    organization_id: str
    kind: str
    display_name: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class RecordTraining:
    request_id: str
    person_id: str
    module: ModuleInput | None
    completed_on: DateInput | None
    expires_on: DateInput | None = None


@dataclass(frozen=True)
class RecordCertification:
    request_id: str
    person_id: str
    credential_type: str
    issuing_body: str
    credential_number: str
    valid_from: DateInput | None
    valid_until: DateInput | None


@dataclass(frozen=True)
class VerifyCertification:
    certification_id: str
    decision: str
    verified_by: str


@dataclass(frozen=True)
class AssignSupervisor:
    supporter_id: str
    supervisor_id: str


@dataclass(frozen=True)
class SetPassword:
    person_id: str
    username: str
    new_password: str = field(repr=False)
    current_password: str = field(default="", repr=False)


@dataclass(frozen=True)
class AddClientKey:
    client_id: str
    public_jwk_json: str


@dataclass(frozen=True)
class RemoveClientKey:
    client_id: str
    kid: str
