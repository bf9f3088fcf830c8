"""Rules about people: which roles, which organization, and how roles change."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from peerbridge_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument

from .checks import Violations, check_request_id, parse_choice, parse_optional_uuid
from .commands import RegisterPerson
from .events import RoleGranted, RoleRevoked
from .model import Organization, Person, PersonDetails
from .profile_rules import validate_profile
from .values import ORGANIZATION_KIND_FOR_ROLE, OrganizationKind, Role


def parse_roles(values: tuple[str, ...], violations: Violations) -> frozenset[Role]:
    if not values:
        violations.append(FieldViolation("roles", "must name at least one role"))
        return frozenset()
    roles: list[Role] = []
    for index, value in enumerate(values):
        role = parse_choice(Role, f"roles[{index}]", value, violations)
        if role is None:
            continue
        if role in roles:
            violations.append(FieldViolation(f"roles[{index}]", f"lists {role.value} twice"))
        roles.append(role)
    return frozenset(roles)


def organization_kind_needed(roles: frozenset[Role]) -> set[OrganizationKind]:
    return {
        ORGANIZATION_KIND_FOR_ROLE[role] for role in roles if role in ORGANIZATION_KIND_FOR_ROLE
    }


def violations_for(field: str, violations: Violations) -> bool:
    return any(v.field == field for v in violations)


def _check_roles_fit_one_organization(
    roles: frozenset[Role], organization_id: UUID | None, violations: Violations
) -> None:
    kinds = organization_kind_needed(roles)
    if len(kinds) > 1:
        violations.append(
            FieldViolation(
                "roles", "clinician and program roles need different kinds of organization"
            )
        )
    elif kinds and organization_id is None and not violations_for("organization_id", violations):
        needing = sorted(r.value for r in roles if r in ORGANIZATION_KIND_FOR_ROLE)
        violations.append(
            FieldViolation("organization_id", f"is required for {', '.join(needing)}")
        )


def validate_new_person(command: RegisterPerson) -> tuple[str | None, PersonDetails]:
    """The request id and the checked details, or InvalidArgument naming every bad field."""
    violations: Violations = []
    request_id = check_request_id(command.request_id, violations)
    roles = parse_roles(command.roles, violations)
    organization_id = parse_optional_uuid("organization_id", command.organization_id, violations)
    _check_roles_fit_one_organization(roles, organization_id, violations)
    profile = validate_profile(command.profile, roles, violations)
    if violations or profile is None:
        raise InvalidArgument("the person is not valid", violations)
    return request_id, PersonDetails(roles, organization_id, profile)


def check_organization_fits(roles: frozenset[Role], organization: Organization) -> None:
    """FailedPrecondition when a role needs another kind of organization than this one."""
    for role in sorted(roles):
        needed = ORGANIZATION_KIND_FOR_ROLE.get(role)
        if needed is not None and organization.kind is not needed:
            raise FailedPrecondition(
                f"{role.value} needs a {needed.value}, and organization "
                f"{organization.organization_id} is a {organization.kind.value}"
            )


def grant_role(
    person: Person, role: Role, organization: Organization | None, now: datetime
) -> tuple[Person, RoleGranted | None]:
    """The person holding `role`; no event when they held it already.

    `organization` is the one named in the request, already loaded, or None
    when the request named none.
    """
    if person.holds(role):
        return person, None
    if (
        organization is not None
        and person.organization_id is not None
        and organization.organization_id != person.organization_id
    ):
        raise FailedPrecondition(
            f"person {person.person_id} belongs to organization {person.organization_id}; "
            "moving a person to another organization is not supported"
        )
    organization_id = person.organization_id or (
        organization.organization_id if organization else None
    )
    if role in ORGANIZATION_KIND_FOR_ROLE and organization_id is None:
        raise InvalidArgument(
            "the grant is not valid",
            [FieldViolation("organization_id", f"is required for {role.value}")],
        )
    if organization is not None:
        check_organization_fits(person.roles | {role}, organization)
    updated = person.changed(now, roles=person.roles | {role}, organization_id=organization_id)
    return updated, RoleGranted(person=updated, role=role)


def revoke_role(
    person: Person, role: Role, *, supervises_anyone: bool, now: datetime
) -> tuple[Person, RoleRevoked | None]:
    """The person without `role`; no event when they did not hold it."""
    if not person.holds(role):
        return person, None
    if person.roles == {role}:
        raise FailedPrecondition(f"{role.value} is the person's only role; a person needs one")
    if role is Role.SUPERVISOR and supervises_anyone:
        raise FailedPrecondition(
            "the person supervises peer supporters; assign them another supervisor first"
        )
    profile = person.profile
    if role is Role.MEMBER:
        # The age band is collected for members only; it goes with the role.
        profile = replace(profile, age_band=None)
    updated = person.changed(now, roles=person.roles - {role}, profile=profile)
    return updated, RoleRevoked(person=updated, role=role)
