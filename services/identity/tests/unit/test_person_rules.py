"""Roles, organizations and role changes, as pure rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from peerbridge_identity.domain.events import RoleGranted, RoleRevoked
from peerbridge_identity.domain.model import Organization, Person, Profile, ProgramSettings
from peerbridge_identity.domain.person_rules import (
    check_organization_fits,
    grant_role,
    revoke_role,
    validate_new_person,
)
from peerbridge_identity.domain.values import AgeBand, OrganizationKind, Role
from peerbridge_platform.errors import FailedPrecondition, InvalidArgument

NOW = datetime(2026, 3, 2, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def organization(kind: OrganizationKind) -> Organization:
    settings = ProgramSettings() if kind is OrganizationKind.PEER_SUPPORT_PROGRAM else None
    return Organization(uuid4(), kind, "Synthetic (test)", settings, NOW)


PROGRAM = organization(OrganizationKind.PEER_SUPPORT_PROGRAM)
CLINIC = organization(OrganizationKind.CLINIC)


def person(*roles: Role, organization_id: UUID | None = None) -> Person:
    profile = Profile("Sam (test)", "en", "UTC", age_band=AgeBand.B35_TO_44)
    return Person(uuid4(), frozenset(roles), organization_id, profile, NOW, NOW, 1)


def invalid_fields(build: Any, **changes: Any) -> list[str]:
    with pytest.raises(InvalidArgument) as caught:
        validate_new_person(build.person(**changes))
    return [v.field for v in caught.value.violations]


def test_a_member_needs_no_organization(build: Any) -> None:
    request_id, details = validate_new_person(build.person(roles=("member",)))

    assert request_id is not None
    assert details.roles == {Role.MEMBER}
    assert details.organization_id is None


@pytest.mark.parametrize("role", ["peer_supporter", "supervisor", "coordinator", "clinician"])
def test_staff_roles_need_an_organization(build: Any, role: str) -> None:
    assert invalid_fields(build, roles=(role,)) == ["organization_id"]


@pytest.mark.parametrize(
    ("roles", "field"),
    [
        ((), "roles"),
        (("member", "member"), "roles[1]"),
        (("member", "wizard"), "roles[1]"),
        (("",), "roles[0]"),
    ],
)
def test_bad_role_lists(build: Any, roles: tuple[str, ...], field: str) -> None:
    assert invalid_fields(build, roles=roles) == [field]


def test_clinic_and_program_roles_cannot_be_combined(build: Any) -> None:
    fields = invalid_fields(build, roles=("clinician", "peer_supporter"), organization_id=uuid4())

    assert fields == ["roles"]


def test_every_bad_field_is_reported_at_once(build: Any) -> None:
    fields = invalid_fields(
        build,
        request_id="not a valid key!",
        roles=("peer_supporter",),
        organization_id="not-a-uuid",
        profile=build.profile(language="", age_band="18_to_24"),
    )

    assert fields == ["request_id", "organization_id", "profile.language", "profile.age_band"]


@pytest.mark.parametrize(
    ("roles", "fits"),
    [
        ({Role.PEER_SUPPORTER, Role.SUPERVISOR}, {OrganizationKind.PEER_SUPPORT_PROGRAM}),
        ({Role.COORDINATOR}, {OrganizationKind.PEER_SUPPORT_PROGRAM}),
        ({Role.CLINICIAN}, {OrganizationKind.CLINIC}),
        (
            {Role.MEMBER, Role.ADMIN},
            {OrganizationKind.PEER_SUPPORT_PROGRAM, OrganizationKind.CLINIC},
        ),
    ],
)
def test_which_organizations_fit_which_roles(roles: set[Role], fits: set[OrganizationKind]) -> None:
    for kind in OrganizationKind:
        if kind in fits:
            check_organization_fits(frozenset(roles), organization(kind))
        else:
            with pytest.raises(FailedPrecondition):
                check_organization_fits(frozenset(roles), organization(kind))


# -- grant ------------------------------------------------------------------------


def test_granting_a_role_bumps_the_version_and_says_so() -> None:
    member = person(Role.MEMBER)

    updated, event = grant_role(member, Role.ADMIN, None, LATER)

    assert updated.roles == {Role.MEMBER, Role.ADMIN}
    assert (updated.version, updated.update_time) == (2, LATER)
    assert event == RoleGranted(updated, Role.ADMIN)


def test_granting_a_held_role_changes_nothing() -> None:
    member = person(Role.MEMBER)

    assert grant_role(member, Role.MEMBER, None, LATER) == (member, None)


def test_a_staff_role_brings_the_person_into_the_named_organization() -> None:
    updated, _ = grant_role(person(Role.MEMBER), Role.PEER_SUPPORTER, PROGRAM, LATER)

    assert updated.organization_id == PROGRAM.organization_id


def test_a_staff_role_without_any_organization_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        grant_role(person(Role.MEMBER), Role.SUPERVISOR, None, LATER)

    assert [v.field for v in caught.value.violations] == ["organization_id"]


def test_a_role_that_does_not_fit_the_organization_is_refused() -> None:
    supporter = person(Role.PEER_SUPPORTER, organization_id=PROGRAM.organization_id)

    with pytest.raises(FailedPrecondition):
        grant_role(supporter, Role.CLINICIAN, PROGRAM, LATER)


def test_moving_to_another_organization_is_refused() -> None:
    supporter = person(Role.PEER_SUPPORTER, organization_id=uuid4())

    with pytest.raises(FailedPrecondition, match="another organization"):
        grant_role(supporter, Role.SUPERVISOR, PROGRAM, LATER)


# -- revoke ----------------------------------------------------------------------


def test_revoking_a_role_says_so() -> None:
    both = person(Role.PEER_SUPPORTER, Role.SUPERVISOR, organization_id=PROGRAM.organization_id)

    updated, event = revoke_role(both, Role.SUPERVISOR, supervises_anyone=False, now=LATER)

    assert updated.roles == {Role.PEER_SUPPORTER}
    assert event == RoleRevoked(updated, Role.SUPERVISOR)


def test_revoking_a_role_not_held_changes_nothing() -> None:
    member = person(Role.MEMBER, Role.ADMIN)

    assert revoke_role(member, Role.CLINICIAN, supervises_anyone=False, now=LATER) == (
        member,
        None,
    )


def test_the_last_role_cannot_be_revoked() -> None:
    with pytest.raises(FailedPrecondition, match="only role"):
        revoke_role(person(Role.MEMBER), Role.MEMBER, supervises_anyone=False, now=LATER)


def test_a_supervisor_with_supporters_keeps_the_role() -> None:
    both = person(Role.PEER_SUPPORTER, Role.SUPERVISOR, organization_id=PROGRAM.organization_id)

    with pytest.raises(FailedPrecondition, match="supervises"):
        revoke_role(both, Role.SUPERVISOR, supervises_anyone=True, now=LATER)


def test_the_age_band_goes_with_the_member_role() -> None:
    former = replace(person(Role.MEMBER, Role.ADMIN))

    updated, _ = revoke_role(former, Role.MEMBER, supervises_anyone=False, now=LATER)

    assert updated.profile.age_band is None
    assert updated.profile.display_name == "Sam (test)"
