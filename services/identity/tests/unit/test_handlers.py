"""Every use case through the application, over the in-memory unit of work.

Refused requests change nothing: no state, no event, no commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from peerbridge_identity.adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from peerbridge_identity.bootstrap import bootstrap
from peerbridge_identity.domain.commands import (
    AssignSupervisor,
    GrantRole,
    RegisterClient,
    RevokeRole,
    UpdateProfile,
    VerifyCertification,
)
from peerbridge_identity.domain.events import (
    ClientRegistered,
    OrganizationRegistered,
    PersonRegistered,
    ProfileUpdated,
    RoleGranted,
    RoleRevoked,
    SupporterEligibilityChanged,
)
from peerbridge_identity.domain.values import (
    EligibilityChange,
    EligibilityStatus,
    ReasonCode,
    Role,
)
from peerbridge_identity.service_layer.application import IdentityApplication
from peerbridge_identity.service_layer.pagination import PageLimits
from peerbridge_identity.service_layer.queries import (
    GetPerson,
    GetSupporterEligibility,
    ListEligibleSupporters,
)
from peerbridge_identity.service_layer.repository import RecordedRequest
from peerbridge_platform.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def app(store: InMemoryStore, clock: Any) -> IdentityApplication:
    return bootstrap(
        lambda: InMemoryUnitOfWork(store),
        clock=clock,
        page_limits=PageLimits(default_size=2, max_size=3),
    )


@dataclass
class Snapshot:
    commits: int
    published: int
    persons: dict[UUID, Any]
    eligibility: dict[UUID, Any]

    @classmethod
    def of(cls, store: InMemoryStore) -> Snapshot:
        return cls(
            store.commits, len(store.published), dict(store.persons), dict(store.eligibility)
        )


def eligibility_events(store: InMemoryStore) -> list[SupporterEligibilityChanged]:
    return [e for e in store.published if isinstance(e, SupporterEligibilityChanged)]


@dataclass
class Program:
    organization_id: UUID
    supervisor_id: UUID


async def a_program(app: IdentityApplication, build: Any, **changes: Any) -> Program:
    organization = await app.register_organization(build.program(**changes))
    supervisor = await app.register_person(
        build.person(roles=("supervisor",), organization_id=organization.organization_id)
    )
    return Program(organization.organization_id, supervisor.person_id)


async def a_supporter(app: IdentityApplication, build: Any, program: Program) -> UUID:
    supporter = await app.register_person(
        build.person(roles=("peer_supporter",), organization_id=program.organization_id)
    )
    return supporter.person_id


async def qualify(
    app: IdentityApplication,
    build: Any,
    program: Program,
    supporter_id: UUID,
    *,
    valid_for_days: int = 400,
) -> UUID:
    """Completes every standard module, certifies (verified) and supervises; returns the
    certification id."""
    today = build.TODAY
    for module in build.STANDARD_MODULES:
        await app.record_training(build.training(supporter_id, module, today - timedelta(days=3)))
    certification = await app.record_certification(
        build.certification(
            supporter_id, today - timedelta(days=30), today + timedelta(days=valid_for_days - 1)
        )
    )
    await app.verify_certification(
        VerifyCertification(
            str(certification.certification_id), "verified", str(program.supervisor_id)
        )
    )
    await app.assign_supervisor(AssignSupervisor(str(supporter_id), str(program.supervisor_id)))
    return certification.certification_id


# -- organizations and clients ------------------------------------------------------


async def test_registering_an_organization_announces_it(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    organization = await app.register_organization(build.program())

    assert store.organizations == {organization.organization_id: organization}
    assert store.published == [OrganizationRegistered(organization)]


async def test_a_retried_registration_returns_the_first_organization(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    command = build.clinic()

    first = await app.register_organization(command)
    again = await app.register_organization(command)

    assert again == first
    assert len(store.organizations) == 1
    assert len(store.published) == 1


async def test_a_request_id_reused_for_another_organization_is_a_conflict(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    command = build.clinic()
    await app.register_organization(command)
    before = Snapshot.of(store)

    with pytest.raises(Conflict):
        await app.register_organization(replace(command, name="Another Clinic (test)"))

    assert Snapshot.of(store) == before


async def test_without_a_request_id_every_registration_is_new(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    command = build.clinic(request_id="")

    await app.register_organization(command)
    await app.register_organization(command)

    assert len(store.organizations) == 2


async def test_an_invalid_organization_writes_nothing(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    with pytest.raises(InvalidArgument):
        await app.register_organization(build.clinic(kind="", name=""))

    assert store.commits == 0
    assert store.published == []


async def test_a_client_of_an_organization(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    clinic = await app.register_organization(build.clinic())
    command = RegisterClient(
        "req-client-1", str(clinic.organization_id), "ehr_integration", "EHR (test)", ("a.read",)
    )

    client = await app.register_client(command)
    again = await app.register_client(command)

    assert again == client
    assert client.organization_id == clinic.organization_id
    assert store.published[-1] == ClientRegistered(client)
    assert len(store.clients) == 1


async def test_a_client_of_an_unknown_organization_is_not_found(
    app: IdentityApplication, store: InMemoryStore
) -> None:
    command = RegisterClient("", str(uuid4()), "app", "App (test)", ("referrals.read",))

    with pytest.raises(NotFound):
        await app.register_client(command)

    assert store.commits == 0


# -- people ------------------------------------------------------------------------


async def test_registering_a_member_announces_them_without_eligibility(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    member = await app.register_person(build.person(profile=build.profile(age_band="35_to_44")))

    assert member.roles == {Role.MEMBER}
    assert (member.version, member.create_time) == (1, build.T0)
    assert store.published == [PersonRegistered(member)]
    assert store.eligibility == {}


async def test_a_new_supporter_starts_ineligible_and_nothing_is_announced_about_it(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    program = await a_program(app, build)

    supporter_id = await a_supporter(app, build, program)

    state = store.eligibility[supporter_id]
    assert state.status is EligibilityStatus.INELIGIBLE
    assert [r.code for r in state.reasons] == [
        ReasonCode.CERTIFICATION_MISSING,
        *[ReasonCode.TRAINING_MISSING] * len(build.STANDARD_MODULES),
        ReasonCode.SUPERVISOR_MISSING,
    ]
    assert eligibility_events(store) == []


async def test_a_retried_person_registration_returns_the_first_person(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    command = build.person()

    assert await app.register_person(command) == await app.register_person(command)
    assert len(store.persons) == 1


@pytest.mark.parametrize(
    ("roles", "organization", "error"),
    [
        (("peer_supporter",), "unknown", NotFound),
        (("clinician",), "program", FailedPrecondition),
        (("supervisor",), "clinic", FailedPrecondition),
    ],
)
async def test_people_whose_organization_does_not_fit_are_refused(
    app: IdentityApplication,
    store: InMemoryStore,
    build: Any,
    roles: tuple[str, ...],
    organization: str,
    error: type[Exception],
) -> None:
    ids = {
        "unknown": uuid4(),
        "program": (await app.register_organization(build.program())).organization_id,
        "clinic": (await app.register_organization(build.clinic())).organization_id,
    }
    before = Snapshot.of(store)

    with pytest.raises(error):
        await app.register_person(build.person(roles=roles, organization_id=ids[organization]))

    assert Snapshot.of(store) == before


async def test_get_person(app: IdentityApplication, build: Any) -> None:
    member = await app.register_person(build.person())

    assert await app.get_person(GetPerson(str(member.person_id))) == member
    with pytest.raises(NotFound):
        await app.get_person(GetPerson(str(uuid4())))
    with pytest.raises(InvalidArgument):
        await app.get_person(GetPerson("member-1"))


async def test_a_profile_change_touches_only_the_masked_fields(
    app: IdentityApplication, store: InMemoryStore, build: Any, clock: Any
) -> None:
    member = await app.register_person(build.person())
    clock.advance(minutes=5)

    updated = await app.update_profile(
        UpdateProfile(
            str(member.person_id),
            build.profile(display_name="Sam R. (test)", language="fr-CA"),
            ("language",),
        )
    )

    assert updated.profile == replace(member.profile, language="fr-CA")
    assert (updated.version, updated.update_time) == (2, clock.now)
    assert store.persons[member.person_id] == updated
    assert store.published[-1] == ProfileUpdated(updated, ("language",))


async def test_a_profile_change_that_changes_nothing_announces_nothing(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    member = await app.register_person(build.person())

    same = await app.update_profile(
        UpdateProfile(str(member.person_id), build.profile(), ("language", "time_zone"))
    )

    assert same == member
    assert len(store.published) == 1


@pytest.mark.parametrize(
    "mask",
    [("roles",), ("organization_id",), ("display_name", "roles"), ("version",), ()],
)
async def test_mass_assignment_is_refused_and_writes_nothing(
    app: IdentityApplication, store: InMemoryStore, build: Any, mask: tuple[str, ...]
) -> None:
    member = await app.register_person(build.person())
    before = Snapshot.of(store)

    with pytest.raises(InvalidArgument) as caught:
        await app.update_profile(
            UpdateProfile(str(member.person_id), build.profile(display_name="Admin"), mask)
        )

    assert [v.field for v in caught.value.violations] == ["update_mask"]
    assert Snapshot.of(store) == before


async def test_a_profile_change_of_an_unknown_person_is_not_found(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    with pytest.raises(NotFound):
        await app.update_profile(UpdateProfile(str(uuid4()), build.profile(), ("language",)))

    assert store.commits == 0


async def test_granting_and_revoking_roles(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    member = await app.register_person(build.person())

    admin = await app.grant_role(GrantRole(str(member.person_id), "admin"))
    unchanged = await app.grant_role(GrantRole(str(member.person_id), "admin"))
    back = await app.revoke_role(RevokeRole(str(member.person_id), "admin"))

    assert admin.roles == {Role.MEMBER, Role.ADMIN}
    assert unchanged == admin
    assert back.roles == {Role.MEMBER}
    assert back.version == 3
    assert store.published[1:] == [RoleGranted(admin, Role.ADMIN), RoleRevoked(back, Role.ADMIN)]


async def test_refused_role_changes_write_nothing(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    program = await a_program(app, build)
    clinic = await app.register_organization(build.clinic())
    member = await app.register_person(build.person())
    supporter_id = await a_supporter(app, build, program)
    await app.assign_supervisor(AssignSupervisor(str(supporter_id), str(program.supervisor_id)))
    before = Snapshot.of(store)

    refused = [
        (RevokeRole(str(member.person_id), "member"), FailedPrecondition),
        (RevokeRole(str(program.supervisor_id), "supervisor"), FailedPrecondition),
        (GrantRole(str(member.person_id), "clinician"), InvalidArgument),
        (GrantRole(str(supporter_id), "clinician"), FailedPrecondition),
        (
            GrantRole(str(supporter_id), "coordinator", str(clinic.organization_id)),
            FailedPrecondition,
        ),
        (GrantRole(str(member.person_id), "overlord"), InvalidArgument),
        (GrantRole(str(uuid4()), "admin"), NotFound),
        (GrantRole(str(member.person_id), "supervisor", str(uuid4())), NotFound),
    ]
    for command, error in refused:
        call = (
            app.grant_role(command) if isinstance(command, GrantRole) else app.revoke_role(command)
        )
        with pytest.raises(error):
            await call

    assert Snapshot.of(store) == before


# -- qualifications and eligibility ---------------------------------------------------


async def test_a_supporter_becomes_eligible_when_the_last_requirement_is_met(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    program = await a_program(app, build)
    supporter_id = await a_supporter(app, build, program)

    await qualify(app, build, program, supporter_id)

    (granted,) = eligibility_events(store)
    assert granted.change is EligibilityChange.GRANTED
    assert granted.previous_status is EligibilityStatus.INELIGIBLE
    assert granted.state.status is EligibilityStatus.ELIGIBLE
    assert granted.state.organization_id == program.organization_id
    assert store.published[-1] == granted  # announced by the write that completed it


async def test_qualification_records_of_non_supporters_are_refused(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    member = await app.register_person(build.person())
    before = Snapshot.of(store)

    with pytest.raises(FailedPrecondition):
        await app.record_training(build.training(member.person_id, "ethics", build.TODAY))
    with pytest.raises(FailedPrecondition):
        await app.record_certification(
            build.certification(member.person_id, build.TODAY, build.TODAY)
        )
    with pytest.raises(NotFound):
        await app.record_training(build.training(uuid4(), "ethics", build.TODAY))

    assert Snapshot.of(store) == before
    assert store.training == {}
    assert store.certifications == {}


async def test_recording_training_is_idempotent(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    program = await a_program(app, build)
    supporter_id = await a_supporter(app, build, program)
    command = build.training(supporter_id, "ethics", build.TODAY)

    assert await app.record_training(command) == await app.record_training(command)
    assert len(store.training) == 1


async def test_verification_rules_hold(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    program = await a_program(app, build)
    supporter_id = await a_supporter(app, build, program)
    certification = await app.record_certification(
        build.certification(supporter_id, build.TODAY, build.TODAY + timedelta(days=700))
    )
    before = Snapshot.of(store)
    certification_id = str(certification.certification_id)

    with pytest.raises(FailedPrecondition):
        await app.verify_certification(
            VerifyCertification(certification_id, "verified", str(supporter_id))
        )
    with pytest.raises(NotFound):
        await app.verify_certification(
            VerifyCertification(str(uuid4()), "verified", str(program.supervisor_id))
        )
    with pytest.raises(NotFound):
        await app.verify_certification(
            VerifyCertification(certification_id, "verified", str(uuid4()))
        )

    assert Snapshot.of(store) == before
    assert store.certifications[certification.certification_id] == certification


async def test_revoking_the_supporter_role_revokes_eligibility(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    program = await a_program(app, build)
    supporter_id = await a_supporter(app, build, program)
    await qualify(app, build, program, supporter_id)
    await app.grant_role(GrantRole(str(supporter_id), "coordinator"))

    await app.revoke_role(RevokeRole(str(supporter_id), "peer_supporter"))

    revoked = eligibility_events(store)[-1]
    assert revoked.change is EligibilityChange.REVOKED
    assert [r.code for r in revoked.state.reasons] == [ReasonCode.NOT_A_PEER_SUPPORTER]


async def test_rejecting_a_verified_certification_revokes_eligibility(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    program = await a_program(app, build)
    supporter_id = await a_supporter(app, build, program)
    certification_id = await qualify(app, build, program, supporter_id)

    rejected = await app.verify_certification(
        VerifyCertification(str(certification_id), "rejected", str(program.supervisor_id))
    )

    assert rejected.verified_by == program.supervisor_id
    assert [e.change for e in eligibility_events(store)] == [
        EligibilityChange.GRANTED,
        EligibilityChange.REVOKED,
    ]


async def test_a_supervisor_from_another_program_is_refused(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    ours, theirs = await a_program(app, build), await a_program(app, build)
    supporter_id = await a_supporter(app, build, ours)
    before = Snapshot.of(store)

    with pytest.raises(FailedPrecondition):
        await app.assign_supervisor(AssignSupervisor(str(supporter_id), str(theirs.supervisor_id)))

    assert Snapshot.of(store) == before
    assert store.supervision == {}


async def test_assigning_the_same_supervisor_again_changes_nothing(
    app: IdentityApplication, store: InMemoryStore, build: Any
) -> None:
    program = await a_program(app, build)
    supporter_id = await a_supporter(app, build, program)
    command = AssignSupervisor(str(supporter_id), str(program.supervisor_id))

    first = await app.assign_supervisor(command)
    published, supervision = len(store.published), dict(store.supervision)
    audited = len(store.audited)
    again = await app.assign_supervisor(command)

    assert again == first
    assert (len(store.published), store.supervision) == (published, supervision)
    # Nothing changed, but the access itself is on record.
    assert [a.action for a in store.audited[audited:]] == ["supervision.assign"]


async def test_eligibility_is_assessed_for_today(
    app: IdentityApplication, build: Any, clock: Any
) -> None:
    program = await a_program(app, build)
    supporter_id = await a_supporter(app, build, program)
    await qualify(app, build, program, supporter_id, valid_for_days=40)
    query = GetSupporterEligibility(str(supporter_id))

    today = await app.get_supporter_eligibility(query)
    clock.advance(days=45)
    later = await app.get_supporter_eligibility(query)

    assert today.status is EligibilityStatus.ELIGIBLE
    assert later.status is EligibilityStatus.INELIGIBLE
    assert later.evaluated_on == build.TODAY + timedelta(days=45)
    with pytest.raises(NotFound):
        await app.get_supporter_eligibility(GetSupporterEligibility(str(uuid4())))


async def test_a_member_is_never_eligible(app: IdentityApplication, build: Any) -> None:
    member = await app.register_person(build.person())

    state = await app.get_supporter_eligibility(GetSupporterEligibility(str(member.person_id)))

    assert [r.code for r in state.reasons] == [ReasonCode.NOT_A_PEER_SUPPORTER]


async def test_listing_eligible_supporters_page_by_page(
    app: IdentityApplication, build: Any
) -> None:
    program, other = await a_program(app, build), await a_program(app, build)
    eligible = []
    for _ in range(3):
        supporter_id = await a_supporter(app, build, program)
        await qualify(app, build, program, supporter_id)
        eligible.append(supporter_id)
    await a_supporter(app, build, program)  # not qualified
    elsewhere = await a_supporter(app, build, other)
    await qualify(app, build, other, elsewhere)
    query = ListEligibleSupporters(organization_id=str(program.organization_id))

    first = await app.list_eligible_supporters(query)
    second = await app.list_eligible_supporters(replace(query, page_token=first.next_page_token))
    everyone = await every_page(app, ListEligibleSupporters(page_size=10))

    assert [s.person_id for s in first.supporters + second.supporters] == sorted(eligible)
    assert second.next_page_token == ""
    assert everyone == sorted([*eligible, elsewhere])
    with pytest.raises(InvalidArgument):
        await app.list_eligible_supporters(ListEligibleSupporters(page_token=first.next_page_token))
    with pytest.raises(InvalidArgument):
        await app.list_eligible_supporters(ListEligibleSupporters(page_size=-1))


async def every_page(app: IdentityApplication, query: ListEligibleSupporters) -> list[UUID]:
    found: list[UUID] = []
    while True:
        page = await app.list_eligible_supporters(query)
        assert len(page.supporters) <= 3  # the maximum page size
        found += [s.person_id for s in page.supporters]
        if not page.next_page_token:
            return found
        query = replace(query, page_token=page.next_page_token)


# -- the passage of time ---------------------------------------------------------------


async def test_the_review_announces_expiring_soon_then_expired_once_each(
    app: IdentityApplication, store: InMemoryStore, build: Any, clock: Any
) -> None:
    program = await a_program(app, build)
    supporter_id = await a_supporter(app, build, program)
    await qualify(app, build, program, supporter_id, valid_for_days=100)
    lapse = build.TODAY + timedelta(days=100)

    assert await app.review_due_supporters(50) == 0
    clock.now += lapse - build.TODAY - timedelta(days=31)
    assert await app.review_due_supporters(50) == 0  # one day before the window
    clock.advance(days=1)
    assert await app.review_due_supporters(50) == 1
    assert await app.review_due_supporters(50) == 0
    listed = await app.list_eligible_supporters(ListEligibleSupporters())
    clock.now += lapse - clock.today()
    assert await app.review_due_supporters(50) == 1
    assert await app.review_due_supporters(50) == 0

    changes = [(e.change, e.state.evaluated_on) for e in eligibility_events(store)]
    assert changes == [
        (EligibilityChange.GRANTED, build.TODAY),
        (EligibilityChange.EXPIRING_SOON, lapse - timedelta(days=30)),
        (EligibilityChange.EXPIRED, lapse),
    ]
    assert [s.status for s in listed.supporters] == [EligibilityStatus.EXPIRING_SOON]
    assert (await app.list_eligible_supporters(ListEligibleSupporters())).supporters == []


async def test_a_renewal_recorded_while_expiring_soon_grants_again(
    app: IdentityApplication, store: InMemoryStore, build: Any, clock: Any
) -> None:
    program = await a_program(app, build)
    supporter_id = await a_supporter(app, build, program)
    await qualify(app, build, program, supporter_id, valid_for_days=10)
    renewal = await app.record_certification(
        build.certification(
            supporter_id, build.TODAY, build.TODAY + timedelta(days=700), credential_number="PR-2"
        )
    )

    await app.verify_certification(
        VerifyCertification(str(renewal.certification_id), "verified", str(program.supervisor_id))
    )

    assert [e.change for e in eligibility_events(store)] == [
        EligibilityChange.GRANTED,  # eligible, though expiring soon
        EligibilityChange.GRANTED,  # renewed
    ]
    assert eligibility_events(store)[0].state.status is EligibilityStatus.EXPIRING_SOON


async def test_the_review_works_in_batches(
    app: IdentityApplication, store: InMemoryStore, build: Any, clock: Any
) -> None:
    program = await a_program(app, build)
    for _ in range(5):
        supporter_id = await a_supporter(app, build, program)
        await qualify(app, build, program, supporter_id, valid_for_days=5)
    clock.advance(days=6)

    counts = [await app.review_due_supporters(2) for _ in range(4)]

    assert counts == [2, 2, 1, 0]
    expired = [e for e in eligibility_events(store) if e.change is EligibilityChange.EXPIRED]
    assert len(expired) == 5


# -- a concurrent retry that commits first ----------------------------------------------


class _RivalCommitsFirst(InMemoryUnitOfWork):
    """Finds no earlier request, as if a rival's transaction had not committed yet, then
    lets the rival (a copy of our own request) commit just before our insert."""

    def __init__(self, store: InMemoryStore, rival: Any) -> None:
        super().__init__(store)
        self._rival = rival

    async def _begin(self) -> None:
        await super()._begin()
        requests, rival, store = self.requests, self, self.store

        async def add_after_rival(
            operation: str, request_id: str, fingerprint: str, resource_id: UUID
        ) -> None:
            if rival._rival is not None:
                person, rival._rival = rival._rival, None
                store.persons[person.person_id] = person
                store.requests[(operation, request_id)] = RecordedRequest(
                    fingerprint, person.person_id
                )
            await type(requests).add(requests, operation, request_id, fingerprint, resource_id)

        requests.add = add_after_rival  # type: ignore[method-assign]


async def test_a_retry_racing_the_first_call_answers_with_the_first_person(
    store: InMemoryStore, build: Any, clock: Any
) -> None:
    command = build.person()
    rival = await bootstrap(
        lambda: InMemoryUnitOfWork(InMemoryStore()), clock=clock
    ).register_person(command)
    racing = bootstrap(lambda: _RivalCommitsFirst(store, rival), clock=clock)

    answer = await racing.register_person(command)

    assert answer == rival
    assert store.persons == {rival.person_id: rival}
    assert store.published == []  # our own attempt rolled back with its event
