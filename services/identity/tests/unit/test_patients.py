"""ResolvePatient over the in-memory unit of work: the rule, the checks, link and enrol.

Every patient here is synthetic. Refused requests change nothing but the audit of the refusal.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from peerbridge_identity.adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from peerbridge_identity.bootstrap import bootstrap
from peerbridge_identity.domain import patients
from peerbridge_identity.domain.commands import DateInput
from peerbridge_identity.domain.events import PersonRegistered
from peerbridge_identity.domain.patients import Resolution, ResolvePatient
from peerbridge_identity.domain.values import AgeBand, OrganizationKind, Role
from peerbridge_identity.service_layer.application import IdentityApplication
from peerbridge_platform.auth import Principal, principal_context
from peerbridge_platform.auth import Role as CallerRole
from peerbridge_platform.auth.scopes import PATIENTS_LINK, REFERRALS_WRITE, ROLE_SCOPES
from peerbridge_platform.errors import InvalidArgument, PermissionDenied

from ..conftest import TODAY, clinic_command, program_command

MRN = "urn:oid:2.16.840.1.113883.3.9999.1"


def ehr(organization_id: UUID, scopes: frozenset[str] = frozenset({PATIENTS_LINK})) -> Principal:
    client_id = str(uuid4())
    return Principal(
        subject=client_id,
        roles=frozenset({CallerRole.PARTNER_CLIENT}),
        scopes=scopes,
        organization_id=str(organization_id),
        client_id=client_id,
        token_id=f"unit-{client_id}",
        expires_at=datetime(2099, 1, 1, tzinfo=UTC),
    )


def clinician(organization_id: UUID) -> Principal:
    return Principal(
        subject=str(uuid4()),
        roles=frozenset({CallerRole.CLINICIAN}),
        scopes=ROLE_SCOPES[CallerRole.CLINICIAN],
        organization_id=str(organization_id),
        client_id=None,
        token_id="unit-clinician",
        expires_at=datetime(2099, 1, 1, tzinfo=UTC),
    )


def resolve(program_id: UUID | None, value: str = "MRN-0001", **changes: Any) -> ResolvePatient:
    fields: dict[str, Any] = {
        "system": MRN,
        "value": value,
        "program_id": str(program_id) if program_id else "",
        "given_name": "Robin",
        "birth_date": DateInput(1990, 5, 17),
        "language": "es-MX",
    }
    return ResolvePatient(**(fields | changes))


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def app(store: InMemoryStore, clock: Any) -> IdentityApplication:
    return bootstrap(lambda: InMemoryUnitOfWork(store), clock=clock)


@pytest.fixture
async def orgs(app: IdentityApplication) -> dict[str, UUID]:
    return {
        "clinic": (await app.register_organization(clinic_command())).organization_id,
        "other_clinic": (await app.register_organization(clinic_command())).organization_id,
        "program": (await app.register_organization(program_command())).organization_id,
    }


# --- pure rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (17, None),
        (18, AgeBand.B18_TO_24),
        (24, AgeBand.B18_TO_24),
        (25, AgeBand.B25_TO_34),
        (64, AgeBand.B55_TO_64),
        (65, AgeBand.B65_OR_OLDER),
    ],
)
def test_age_bands(age: int, band: AgeBand | None) -> None:
    assert patients.age_band(age) is band


def test_age_turns_on_the_birthday() -> None:
    assert patients.age_on(date(2000, 3, 2), date(2018, 3, 1)) == 17
    assert patients.age_on(date(2000, 3, 2), date(2018, 3, 2)) == 18


def test_every_bad_field_is_named_at_once() -> None:
    command = replace(
        resolve(None, value=" ", system="urn:peerbridge:member"),
        program_id="not-a-uuid",
        birth_date=DateInput(TODAY.year - 10, 1, 1),
        language="not a tag",
    )
    with pytest.raises(InvalidArgument) as raised:
        patients.validate_resolve(command, TODAY)
    assert {v.field for v in raised.value.violations} == {
        "identifier.system",
        "identifier.value",
        "program_id",
        "demographics.birth_date",
        "demographics.language",
    }


def test_only_the_given_name_and_an_age_band_are_kept() -> None:
    request = patients.validate_resolve(resolve(uuid4()), TODAY)
    assert request.profile.display_name == "Robin"
    assert request.profile.age_band is AgeBand.B35_TO_44
    assert request.profile.language == "es-MX"
    bare = patients.validate_resolve(
        resolve(None, given_name="", birth_date=None, language=""), TODAY
    )
    assert (bare.profile.display_name, bare.profile.age_band, bare.profile.language) == (
        "Member",
        None,
        "en",
    )


CLINIC = uuid4()


@pytest.mark.parametrize(
    ("principal", "kind", "owner", "allowed"),
    [
        (ehr(CLINIC), OrganizationKind.CLINIC, None, True),
        (ehr(CLINIC), OrganizationKind.CLINIC, CLINIC, True),
        (clinician(CLINIC), OrganizationKind.CLINIC, None, True),
        (ehr(CLINIC), OrganizationKind.CLINIC, uuid4(), False),
        (ehr(CLINIC, frozenset({REFERRALS_WRITE})), OrganizationKind.CLINIC, None, False),
        (ehr(CLINIC), OrganizationKind.PEER_SUPPORT_PROGRAM, None, False),
        (ehr(CLINIC), None, None, False),
    ],
    ids=[
        "ehr first use",
        "ehr own system",
        "clinician",
        "system of another clinic",
        "without patients.link",
        "program's client",
        "no organization",
    ],
)
def test_who_may_resolve(
    principal: Principal, kind: OrganizationKind | None, owner: UUID | None, allowed: bool
) -> None:
    assert patients.resolve_patient(principal, kind, owner).allowed is allowed


def test_coordinators_and_admins_may_not_resolve() -> None:
    for role in (CallerRole.COORDINATOR, CallerRole.ADMIN):
        principal = Principal(
            subject=str(uuid4()),
            roles=frozenset({role}),
            scopes=frozenset({PATIENTS_LINK}),
            organization_id=str(CLINIC),
            client_id=None,
            token_id="t",
            expires_at=datetime(2099, 1, 1, tzinfo=UTC),
        )
        assert not patients.resolve_patient(principal, OrganizationKind.CLINIC, None).allowed


# --- through the application --------------------------------------------------------------


async def test_an_unknown_patient_is_enrolled_as_a_member_of_the_program(
    app: IdentityApplication, store: InMemoryStore, orgs: dict[str, UUID]
) -> None:
    with principal_context(ehr(orgs["clinic"])):
        resolved = await app.resolve_patient(resolve(orgs["program"]))

    assert resolved.resolution is Resolution.ENROLLED
    member = store.persons[resolved.member_id]
    assert member.roles == {Role.MEMBER}
    assert member.organization_id == orgs["program"]
    assert isinstance(store.published[-1], PersonRegistered)
    assert store.published[-1].person == member
    link = store.patient_links[(MRN, "MRN-0001")]
    assert (link.person_id, link.assigning_organization_id, link.enrolled) == (
        resolved.member_id,
        orgs["clinic"],
        True,
    )
    assert store.audited[-1].action == "patient.resolve"
    assert store.audited[-1].subject_id == str(resolved.member_id)


async def test_the_same_identifier_again_is_the_same_member_and_no_new_event(
    app: IdentityApplication, store: InMemoryStore, orgs: dict[str, UUID]
) -> None:
    with principal_context(ehr(orgs["clinic"])):
        first = await app.resolve_patient(resolve(orgs["program"]))
        events, people = len(store.published), len(store.persons)
        # Other demographics do not matter: only the identifier finds the member.
        again = await app.resolve_patient(resolve(None, given_name="Someone Else"))

    assert again.member_id == first.member_id
    assert again.resolution is Resolution.LINKED
    assert (len(store.published), len(store.persons)) == (events, people)
    assert store.audited[-1].subject_id == str(first.member_id)


async def test_demographics_alone_never_match(
    app: IdentityApplication, store: InMemoryStore, orgs: dict[str, UUID]
) -> None:
    with principal_context(ehr(orgs["clinic"])):
        first = await app.resolve_patient(resolve(orgs["program"], value="MRN-A"))
        second = await app.resolve_patient(resolve(orgs["program"], value="MRN-B"))

    assert first.member_id != second.member_id
    assert second.resolution is Resolution.ENROLLED


async def test_another_clinic_may_not_use_the_first_clinics_system(
    app: IdentityApplication, store: InMemoryStore, orgs: dict[str, UUID]
) -> None:
    with principal_context(ehr(orgs["clinic"])):
        await app.resolve_patient(resolve(orgs["program"]))
    before = (len(store.persons), len(store.published), store.commits, len(store.patient_links))

    for value in ("MRN-0001", "MRN-9999"):  # linked or not, the answer is the same
        with principal_context(ehr(orgs["other_clinic"])), pytest.raises(PermissionDenied):
            await app.resolve_patient(resolve(orgs["program"], value=value))

    assert (len(store.persons), len(store.published), store.commits, len(store.patient_links)) == (
        before
    )
    assert [d.reason for d in store.denied[-2:]] == [
        "the identifier system belongs to another organization"
    ] * 2


async def test_a_program_or_no_program_cannot_enrol_and_nothing_changes(
    app: IdentityApplication, store: InMemoryStore, orgs: dict[str, UUID]
) -> None:
    before = (len(store.persons), store.commits, dict(store.patient_systems))
    with principal_context(ehr(orgs["clinic"])):
        for program in (None, orgs["other_clinic"], uuid4()):
            with pytest.raises(InvalidArgument) as raised:
                await app.resolve_patient(resolve(program))
            assert [v.field for v in raised.value.violations] == ["program_id"]
    with principal_context(ehr(orgs["program"])), pytest.raises(PermissionDenied):
        await app.resolve_patient(resolve(orgs["program"]))

    assert (len(store.persons), store.commits, store.patient_systems) == before
