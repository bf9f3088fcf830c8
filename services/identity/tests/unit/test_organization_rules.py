"""Organizations, their program settings, and partner clients."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from peerbridge_identity.domain.commands import (
    ModuleInput,
    ProgramSettingsInput,
    RegisterClient,
    TrainingRequirementInput,
)
from peerbridge_identity.domain.model import ProgramSettings, TrainingRequirement
from peerbridge_identity.domain.organization_rules import (
    validate_new_client,
    validate_new_organization,
)
from peerbridge_identity.domain.values import ClientKind, OrganizationKind
from peerbridge_platform.errors import InvalidArgument


def settings(*requirements: TrainingRequirementInput, renewal: int = 0) -> ProgramSettingsInput:
    return ProgramSettingsInput(tuple(requirements), renewal)


def requirement(kind: str, code: str, validity: int = 0) -> TrainingRequirementInput:
    return TrainingRequirementInput(ModuleInput(kind, code), validity)  # type: ignore[arg-type]


def test_a_program_with_standard_and_own_modules(build: Any) -> None:
    command = build.program(
        program_settings=settings(
            requirement("standard", "ethics", 730),
            requirement("program_defined", "hiv_bloodborne_pathogens"),
            renewal=730,
        )
    )

    _, details = validate_new_organization(command)

    assert details.kind is OrganizationKind.PEER_SUPPORT_PROGRAM
    assert details.program_settings == ProgramSettings(
        required_training=(
            TrainingRequirement("ethics", 730),
            TrainingRequirement("hiv_bloodborne_pathogens", None),
        ),
        certification_renewal_days=730,
    )


def test_a_program_without_settings_requires_nothing(build: Any) -> None:
    _, details = validate_new_organization(build.program(program_settings=None))

    assert details.program_settings == ProgramSettings()


def test_a_clinic_has_no_program_settings(build: Any) -> None:
    _, details = validate_new_organization(build.clinic())

    assert details.program_settings is None
    with pytest.raises(InvalidArgument) as caught:
        validate_new_organization(build.clinic(program_settings=settings()))
    assert [v.field for v in caught.value.violations] == ["program_settings"]


@pytest.mark.parametrize(
    ("program_settings", "field"),
    [
        (settings(requirement("standard", "juggling")), "required_training[0].module.standard"),
        (
            settings(requirement("program_defined", "ethics")),
            "required_training[0].module.program_defined",
        ),
        (
            settings(requirement("program_defined", "Bad Code")),
            "required_training[0].module.program_defined",
        ),
        (
            settings(requirement("standard", "ethics"), requirement("standard", "ethics")),
            "required_training[1].module",
        ),
        (settings(requirement("standard", "ethics", -1)), "required_training[0].validity_days"),
        (
            settings(requirement("standard", "ethics", 36_501)),
            "required_training[0].validity_days",
        ),
        (settings(renewal=-5), "certification_renewal_days"),
        (settings(TrainingRequirementInput(None)), "required_training[0].module"),
    ],
)
def test_bad_program_settings(
    build: Any, program_settings: ProgramSettingsInput, field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_new_organization(build.program(program_settings=program_settings))

    assert [v.field for v in caught.value.violations] == [f"program_settings.{field}"]


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"kind": ""}, ["kind"]),
        ({"kind": "hospital"}, ["kind"]),
        ({"name": ""}, ["name"]),
        ({"name": "n" * 201}, ["name"]),
        ({"request_id": "has spaces"}, ["request_id"]),
    ],
)
def test_bad_organizations(build: Any, changes: dict[str, str], fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_new_organization(build.clinic(**changes))

    assert [v.field for v in caught.value.violations] == fields


def client(**changes: Any) -> RegisterClient:
    fields: dict[str, Any] = {
        "request_id": "",
        "organization_id": str(uuid4()),
        "kind": "ehr_integration",
        "display_name": "Northside EHR integration (test)",
        "scopes": ("referrals.write", "referrals.read"),
    }
    fields.update(changes)
    return RegisterClient(**fields)


def test_a_client_has_sorted_scopes() -> None:
    request_id, details = validate_new_client(client())

    assert request_id is None
    assert details.kind is ClientKind.EHR_INTEGRATION
    assert details.scopes == ("referrals.read", "referrals.write")


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"scopes": ()}, ["scopes"]),
        ({"scopes": ("referrals",)}, ["scopes[0]"]),
        ({"scopes": ("referrals.read", "Referrals.Write")}, ["scopes[1]"]),
        ({"scopes": ("referrals.read", "referrals.read")}, ["scopes[1]"]),
        ({"scopes": tuple(f"s{n}.read" for n in range(33))}, ["scopes"]),
        ({"organization_id": ""}, ["organization_id"]),
        ({"kind": ""}, ["kind"]),
        ({"display_name": "\x00"}, ["display_name"]),
    ],
)
def test_bad_clients(changes: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_new_client(client(**changes))

    assert [v.field for v in caught.value.violations] == fields
