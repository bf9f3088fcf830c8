"""Rules for organizations and partner clients."""

from __future__ import annotations

import re

from peerbridge_platform.errors import FieldViolation, InvalidArgument

from .checks import Violations, check_request_id, check_text, parse_choice, parse_uuid
from .commands import ProgramSettingsInput, RegisterClient, RegisterOrganization
from .model import ClientDetails, OrganizationDetails, ProgramSettings, TrainingRequirement
from .training_modules import parse_module
from .values import ClientKind, OrganizationKind

NAME_MAX_CHARS = 200
# A hundred years: beyond that a number is a mistake, not a policy.
MAX_DAYS = 36_500
MAX_REQUIRED_MODULES = 50
MAX_SCOPES = 32
# "resource.action", as the gateway's routes ask for them (e.g. referrals.read).
_SCOPE = re.compile(r"[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_]{0,31}")


def _check_days(field: str, value: int, violations: Violations) -> int | None:
    """A number of days, 0 meaning "none"."""
    if not 0 <= value <= MAX_DAYS:
        violations.append(FieldViolation(field, f"must be from 0 to {MAX_DAYS}"))
        return None
    return value or None


def _program_settings(
    given: ProgramSettingsInput | None, violations: Violations
) -> ProgramSettings:
    if given is None:
        return ProgramSettings()
    if len(given.required_training) > MAX_REQUIRED_MODULES:
        violations.append(
            FieldViolation(
                "program_settings.required_training",
                f"must list at most {MAX_REQUIRED_MODULES} modules",
            )
        )
    requirements: dict[str, TrainingRequirement] = {}
    for index, item in enumerate(given.required_training):
        field = f"program_settings.required_training[{index}]"
        module = parse_module(f"{field}.module", item.module, violations)
        validity = _check_days(f"{field}.validity_days", item.validity_days, violations)
        if module is None:
            continue
        if module in requirements:
            violations.append(FieldViolation(f"{field}.module", f"lists {module} twice"))
        requirements[module] = TrainingRequirement(module, validity)
    renewal = _check_days(
        "program_settings.certification_renewal_days",
        given.certification_renewal_days,
        violations,
    )
    return ProgramSettings(
        required_training=tuple(requirements[m] for m in sorted(requirements)),
        certification_renewal_days=renewal,
    )


def validate_new_organization(
    command: RegisterOrganization,
) -> tuple[str | None, OrganizationDetails]:
    violations: Violations = []
    request_id = check_request_id(command.request_id, violations)
    kind = parse_choice(OrganizationKind, "kind", command.kind, violations)
    check_text("name", command.name, NAME_MAX_CHARS, violations)
    settings: ProgramSettings | None = None
    if kind is OrganizationKind.CLINIC and command.program_settings is not None:
        violations.append(
            FieldViolation("program_settings", "must be unset for a clinic: clinics run no program")
        )
    elif kind is OrganizationKind.PEER_SUPPORT_PROGRAM:
        settings = _program_settings(command.program_settings, violations)
    if violations or kind is None:
        raise InvalidArgument("the organization is not valid", violations)
    return request_id, OrganizationDetails(kind, command.name, settings)


def _scopes(values: tuple[str, ...], violations: Violations) -> tuple[str, ...]:
    if not values:
        violations.append(FieldViolation("scopes", "must name at least one scope"))
    elif len(values) > MAX_SCOPES:
        violations.append(FieldViolation("scopes", f"must name at most {MAX_SCOPES} scopes"))
    seen: set[str] = set()
    for index, scope in enumerate(values):
        if not _SCOPE.fullmatch(scope):
            violations.append(
                FieldViolation(
                    f"scopes[{index}]", "must look like resource.action, e.g. referrals.read"
                )
            )
        elif scope in seen:
            violations.append(FieldViolation(f"scopes[{index}]", f"lists {scope} twice"))
        seen.add(scope)
    return tuple(sorted(seen))


def validate_new_client(command: RegisterClient) -> tuple[str | None, ClientDetails]:
    violations: Violations = []
    request_id = check_request_id(command.request_id, violations)
    organization_id = parse_uuid("organization_id", command.organization_id, violations)
    kind = parse_choice(ClientKind, "kind", command.kind, violations)
    check_text("display_name", command.display_name, NAME_MAX_CHARS, violations)
    scopes = _scopes(command.scopes, violations)
    if violations or organization_id is None or kind is None:
        raise InvalidArgument("the client is not valid", violations)
    return request_id, ClientDetails(organization_id, kind, command.display_name, scopes)
