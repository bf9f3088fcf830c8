"""One contract for identity storage, run against the in-memory fake and PostgreSQL (asyncpg).

The fake is only worth having if it behaves like the real thing; these tests
are written once and hold for both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest

from peerbridge_identity.adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from peerbridge_identity.adapters.postgres_unit_of_work import PostgresUnitOfWork
from peerbridge_identity.adapters.schema import identity_migrations, migrate
from peerbridge_identity.domain.credentials import PasswordCredential, username_key
from peerbridge_identity.domain.eligibility import EligibilityState, Reason
from peerbridge_identity.domain.events import DomainEvent
from peerbridge_identity.domain.model import (
    Certification,
    Client,
    Organization,
    Person,
    Profile,
    ProgramSettings,
    Supervision,
    TrainingRecord,
    TrainingRequirement,
)
from peerbridge_identity.domain.patients import PatientLink
from peerbridge_identity.domain.values import (
    AgeBand,
    ClientKind,
    ContactPreference,
    EligibilityStatus,
    OrganizationKind,
    ReasonCode,
    Role,
    VerificationStatus,
)
from peerbridge_identity.service_layer.repository import (
    DuplicateRequestId,
    IdentifierTaken,
    StaleWrite,
)
from peerbridge_identity.service_layer.unit_of_work import UnitOfWork

UowFactory = Callable[[], UnitOfWork]
# Microseconds on purpose: PostgreSQL keeps them, so a round trip must too.
T0 = datetime(2026, 3, 2, 9, 30, 0, 123456, tzinfo=UTC)
TODAY = date(2026, 3, 2)


def a_program(**changes: object) -> Organization:
    organization = Organization(
        organization_id=uuid4(),
        kind=OrganizationKind.PEER_SUPPORT_PROGRAM,
        name="Harbour Peer Recovery (test) — Ñandú",
        program_settings=ProgramSettings(
            required_training=(
                TrainingRequirement("ethics", 730),
                TrainingRequirement("hiv_bloodborne_pathogens", None),
            ),
            certification_renewal_days=730,
        ),
        create_time=T0,
    )
    return replace(organization, **changes)  # type: ignore[arg-type]


def a_person(organization: Organization | None = None, *roles: Role) -> Person:
    return Person(
        person_id=uuid4(),
        roles=frozenset(roles or {Role.PEER_SUPPORTER}),
        organization_id=organization.organization_id if organization else None,
        profile=Profile("Sam 'quoted' (test)", "zh-Hant-TW", "Asia/Taipei"),
        create_time=T0,
        update_time=T0,
        version=1,
    )


def a_certification(person: Person, valid_from: date = TODAY) -> Certification:
    return Certification(
        certification_id=uuid4(),
        person_id=person.person_id,
        credential_type="IC&RC Peer Recovery (PR)",
        issuing_body="Synthetic Certification Board",
        credential_number="PR 2026/0001-A",
        valid_from=valid_from,
        valid_until=valid_from + timedelta(days=730),
        verification_status=VerificationStatus.PENDING,
        verified_by=None,
        verify_time=None,
        create_time=T0,
    )


def a_state(
    person: Person,
    status: EligibilityStatus = EligibilityStatus.ELIGIBLE,
    *,
    lapses_on: date | None = TODAY + timedelta(days=100),
    review_on: date | None = None,
) -> EligibilityState:
    return EligibilityState(
        person_id=person.person_id,
        organization_id=person.organization_id,
        status=status,
        reasons=(),
        lapses_on=None if status is EligibilityStatus.INELIGIBLE else lapses_on,
        review_on=review_on,
        evaluated_on=TODAY,
        change_time=T0,
        version=1,
    )


async def store(uow_factory: UowFactory, *objects: object) -> None:
    async with uow_factory() as uow:
        for item in objects:
            if isinstance(item, Organization):
                await uow.organizations.add(item)
            elif isinstance(item, Person):
                await uow.persons.add(item)
            elif isinstance(item, Client):
                await uow.clients.add(item)
            elif isinstance(item, TrainingRecord):
                await uow.training.add(item)
            elif isinstance(item, Certification):
                await uow.certifications.add(item)
            elif isinstance(item, Supervision):
                await uow.supervision.put(item)
            elif isinstance(item, EligibilityState):
                await uow.eligibility.put(item)
            else:
                raise TypeError(item)
        await uow.commit()


class StorageContract:
    """Subclasses provide `uow_factory`: fresh units of work over one empty store."""

    async def test_organizations_read_back_equal(self, uow_factory: UowFactory) -> None:
        program = a_program()
        clinic = a_program(kind=OrganizationKind.CLINIC, program_settings=None)
        bare = a_program(program_settings=ProgramSettings())
        await store(uow_factory, program, clinic, bare)

        async with uow_factory() as uow:
            for organization in (program, clinic, bare):
                assert await uow.organizations.get(organization.organization_id) == organization
            assert await uow.organizations.get(uuid4()) is None

    async def test_persons_read_back_equal(self, uow_factory: UowFactory) -> None:
        program = a_program()
        person = replace(
            a_person(program, Role.MEMBER, Role.PEER_SUPPORTER, Role.ADMIN),
            profile=Profile(
                "Åsa (test)", "sv-SE", "Europe/Stockholm", ContactPreference.SMS, AgeBand.B18_TO_24
            ),
        )
        without = a_person(None, Role.MEMBER)
        await store(uow_factory, program, person, without)

        async with uow_factory() as uow:
            assert await uow.persons.get(person.person_id) == person
            assert await uow.persons.get(without.person_id) == without
            assert await uow.persons.get(uuid4()) is None

    async def test_lock_returns_the_people_that_exist(self, uow_factory: UowFactory) -> None:
        program = a_program()
        first, second = a_person(program), a_person(program)
        await store(uow_factory, program, first, second)

        async with uow_factory() as uow:
            found = await uow.persons.lock([second.person_id, uuid4(), first.person_id])

        assert found == {first.person_id: first, second.person_id: second}

    async def test_an_update_must_follow_the_stored_version(self, uow_factory: UowFactory) -> None:
        program = a_program()
        person = a_person(program)
        await store(uow_factory, program, person)
        changed = person.changed(T0 + timedelta(hours=1), roles=frozenset({Role.SUPERVISOR}))

        async with uow_factory() as uow:
            await uow.persons.update(changed)
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.persons.get(person.person_id) == changed
            with pytest.raises(StaleWrite):
                await uow.persons.update(changed)

    async def test_clients_read_back_equal(self, uow_factory: UowFactory) -> None:
        clinic = a_program(kind=OrganizationKind.CLINIC, program_settings=None)
        client = Client(
            uuid4(),
            clinic.organization_id,
            ClientKind.EHR_INTEGRATION,
            "Northside EHR (test)",
            ("referrals.read", "referrals.write"),
            T0,
        )
        await store(uow_factory, clinic, client)

        async with uow_factory() as uow:
            assert await uow.clients.get(client.client_id) == client
            assert await uow.clients.get(uuid4()) is None

    async def test_passwords_by_person_and_by_case_folded_username(
        self, uow_factory: UowFactory
    ) -> None:
        member = a_person(None, Role.MEMBER)
        await store(uow_factory, member)
        credential = PasswordCredential(member.person_id, "Ava.Test", "$argon2id$v=19$first", T0)
        replaced = replace(credential, username="ava2", password_hash="$argon2id$v=19$second")

        async with uow_factory() as uow:
            assert await uow.credentials.password_of(member.person_id) is None
            await uow.credentials.put_password(credential, username_key("Ava.Test"))
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.credentials.password_of(member.person_id) == credential
            assert await uow.credentials.username_owner("ava.test") == member.person_id
            await uow.credentials.put_password(replaced, username_key("ava2"))
            assert await uow.credentials.end_sessions(member.person_id, T0, "password_changed") >= 0
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.credentials.password_of(member.person_id) == replaced
            assert await uow.credentials.username_owner("ava.test") is None

    async def test_client_keys_are_added_once_and_removed(self, uow_factory: UowFactory) -> None:
        clinic = a_program(kind=OrganizationKind.CLINIC, program_settings=None)
        client = Client(uuid4(), clinic.organization_id, ClientKind.APP, "App (test)", ("a",), T0)
        await store(uow_factory, clinic, client)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": "synthetic"}

        async with uow_factory() as uow:
            assert await uow.credentials.add_client_key(client.client_id, "k1", jwk, T0)
            assert not await uow.credentials.add_client_key(client.client_id, "k1", jwk, T0)
            assert await uow.credentials.add_client_key(
                client.client_id, "k2", jwk, T0 + timedelta(seconds=1)
            )
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.credentials.client_key_ids(client.client_id) == ["k1", "k2"]
            assert await uow.credentials.remove_client_key(client.client_id, "k1")
            assert not await uow.credentials.remove_client_key(client.client_id, "k1")
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.credentials.client_key_ids(client.client_id) == ["k2"]

    async def test_training_records_of_a_person_oldest_first(self, uow_factory: UowFactory) -> None:
        program = a_program()
        person, other = a_person(program), a_person(program)
        newer = TrainingRecord(uuid4(), person.person_id, "ethics", TODAY, TODAY + timedelta(1), T0)
        older = TrainingRecord(
            uuid4(), person.person_id, "boundaries", TODAY - timedelta(9), None, T0
        )
        theirs = TrainingRecord(uuid4(), other.person_id, "ethics", TODAY, None, T0)
        await store(uow_factory, program, person, other, newer, older, theirs)

        async with uow_factory() as uow:
            assert await uow.training.for_person(person.person_id) == [older, newer]
            assert await uow.training.get(theirs.training_record_id) == theirs

    async def test_certifications_are_recorded_then_decided(self, uow_factory: UowFactory) -> None:
        program = a_program()
        person, supervisor = a_person(program), a_person(program, Role.SUPERVISOR)
        later = a_certification(person, TODAY + timedelta(days=5))
        first = a_certification(person)
        await store(uow_factory, program, person, supervisor, later, first)
        verified = replace(
            first,
            verification_status=VerificationStatus.VERIFIED,
            verified_by=supervisor.person_id,
            verify_time=T0 + timedelta(minutes=1),
        )

        async with uow_factory() as uow:
            await uow.certifications.update(verified)
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.certifications.for_person(person.person_id) == [verified, later]
            assert await uow.certifications.get(uuid4()) is None

    async def test_supervision_is_replaced_not_added(self, uow_factory: UowFactory) -> None:
        program = a_program()
        supporter = a_person(program)
        first, second = a_person(program, Role.SUPERVISOR), a_person(program, Role.SUPERVISOR)
        await store(
            uow_factory,
            program,
            supporter,
            first,
            second,
            Supervision(supporter.person_id, first.person_id, T0),
        )
        replacement = Supervision(supporter.person_id, second.person_id, T0 + timedelta(days=1))

        await store(uow_factory, replacement)

        async with uow_factory() as uow:
            assert await uow.supervision.get(supporter.person_id) == replacement
            assert not await uow.supervision.supervises_anyone(first.person_id)
            assert await uow.supervision.supervises_anyone(second.person_id)
            assert await uow.supervision.get(second.person_id) is None

    async def test_eligibility_states_read_back_equal(self, uow_factory: UowFactory) -> None:
        program = a_program()
        person = a_person(program)
        state = replace(
            a_state(person, EligibilityStatus.INELIGIBLE, review_on=TODAY + timedelta(days=4)),
            reasons=(
                Reason(ReasonCode.CERTIFICATION_NOT_YET_VALID, on=TODAY + timedelta(days=4)),
                Reason(ReasonCode.TRAINING_MISSING, "hiv_bloodborne_pathogens"),
                Reason(ReasonCode.SUPERVISOR_MISSING),
            ),
        )
        await store(uow_factory, program, person, state)
        moved_on = replace(state, status=EligibilityStatus.ELIGIBLE, reasons=(), version=2)
        moved_on = replace(moved_on, lapses_on=TODAY + timedelta(days=30), review_on=None)

        async with uow_factory() as uow:
            assert await uow.eligibility.get(person.person_id) == state
            await uow.eligibility.put(moved_on)
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.eligibility.get(person.person_id) == moved_on
            assert await uow.eligibility.get(uuid4()) is None

    async def test_only_supporters_whose_review_day_has_come_are_due(
        self, uow_factory: UowFactory
    ) -> None:
        program = a_program()
        people = [a_person(program) for _ in range(4)]
        days = [TODAY - timedelta(days=2), TODAY, TODAY + timedelta(days=1), None]
        states = [a_state(p, review_on=d) for p, d in zip(people, days, strict=True)]
        await store(uow_factory, program, *people, *states)

        async with uow_factory() as uow:
            due = await uow.eligibility.lock_due(TODAY, 10)
            first_only = await uow.eligibility.lock_due(TODAY, 1)

        assert due == [people[0].person_id, people[1].person_id]
        assert first_only == [people[0].person_id]

    async def test_eligible_listing_by_person_id_with_filters(
        self, uow_factory: UowFactory
    ) -> None:
        ours, theirs = a_program(), a_program()
        people = [a_person(ours) for _ in range(5)]
        elsewhere = a_person(theirs)
        states = [
            a_state(people[0]),
            a_state(people[1], EligibilityStatus.EXPIRING_SOON),
            a_state(people[2], EligibilityStatus.INELIGIBLE),
            a_state(people[3], lapses_on=TODAY),  # lapsed this morning, not yet reviewed
            a_state(people[4], lapses_on=None),
            a_state(elsewhere),
        ]
        await store(uow_factory, ours, theirs, *people, elsewhere, *states)
        expected = sorted([people[0].person_id, people[1].person_id, people[4].person_id])

        async with uow_factory() as uow:
            mine = await uow.eligibility.list_eligible(
                TODAY, ours.organization_id, after=None, limit=10
            )
            everyone = await uow.eligibility.list_eligible(TODAY, None, after=None, limit=10)
            after_first = await uow.eligibility.list_eligible(
                TODAY, ours.organization_id, after=expected[0], limit=1
            )

        assert [s.person_id for s in mine] == expected
        assert [s.person_id for s in everyone] == sorted([*expected, elsewhere.person_id])
        assert [s.person_id for s in after_first] == [expected[1]]

    async def test_a_request_id_is_taken_once_per_operation(self, uow_factory: UowFactory) -> None:
        resource = uuid4()
        async with uow_factory() as uow:
            await uow.requests.add("register_person", "req-1", "digest", resource)
            await uow.requests.add("register_client", "req-1", "other", uuid4())
            await uow.commit()

        async with uow_factory() as uow:
            recorded = await uow.requests.find("register_person", "req-1")
            with pytest.raises(DuplicateRequestId):
                await uow.requests.add("register_person", "req-1", "digest", uuid4())

        assert recorded is not None
        assert (recorded.fingerprint, recorded.resource_id) == ("digest", resource)
        async with uow_factory() as uow:
            assert await uow.requests.find("register_person", "req-2") is None

    async def test_nothing_is_kept_without_commit(self, uow_factory: UowFactory) -> None:
        program = a_program()
        async with uow_factory() as uow:
            await uow.organizations.add(program)
            assert await uow.organizations.get(program.organization_id) == program

        async with uow_factory() as uow:
            assert await uow.organizations.get(program.organization_id) is None

    async def test_an_error_inside_rolls_back(self, uow_factory: UowFactory) -> None:
        program = a_program()

        async def fail_after_adding() -> None:
            async with uow_factory() as uow:
                await uow.organizations.add(program)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await fail_after_adding()

        async with uow_factory() as uow:
            assert await uow.organizations.get(program.organization_id) is None

    async def test_patient_links_read_back_and_are_unique(self, uow_factory: UowFactory) -> None:
        clinic = a_program(kind=OrganizationKind.CLINIC, program_settings=None)
        program = a_program()
        member = a_person(program, Role.MEMBER)
        await store(uow_factory, clinic, program, member)
        link = PatientLink(
            "urn:test:mrn", "MRN-1", clinic.organization_id, member.person_id, True, T0
        )

        async with uow_factory() as uow:
            await uow.patients.claim_system("urn:test:mrn", clinic.organization_id, T0)
            await uow.patients.add(link)
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.patients.system_owner("urn:test:mrn") == clinic.organization_id
            assert await uow.patients.system_owner("urn:test:other") is None
            assert await uow.patients.find("urn:test:mrn", "MRN-1") == link
            assert await uow.patients.find("urn:test:mrn", "MRN-2") is None
            with pytest.raises(IdentifierTaken):
                await uow.patients.add(replace(link, person_id=uuid4()))
        async with uow_factory() as uow:
            with pytest.raises(IdentifierTaken):
                await uow.patients.claim_system("urn:test:mrn", program.organization_id, T0)

    async def test_a_unit_of_work_can_be_used_again(self, uow_factory: UowFactory) -> None:
        first, second = a_program(), a_program()
        uow = uow_factory()
        async with uow:
            await uow.organizations.add(first)
            await uow.commit()
        async with uow:
            await uow.organizations.add(second)
            await uow.commit()

        async with uow_factory() as check:
            assert await check.organizations.get(second.organization_id) == second


class TestInMemoryStorage(StorageContract):
    @pytest.fixture
    def uow_factory(self) -> UowFactory:
        shared = InMemoryStore()
        return lambda: InMemoryUnitOfWork(shared)


async def _ignore_events(connection: object, event: DomainEvent) -> None:
    """This contract is about storage; the outbox has tests of its own."""


@pytest.mark.integration
class TestPostgresStorage(StorageContract):
    @pytest.fixture
    async def uow_factory(self, database_url: str) -> AsyncIterator[UowFactory]:
        await migrate(database_url, identity_migrations())
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        try:
            yield lambda: PostgresUnitOfWork(pool, _ignore_events)
        finally:
            await pool.close()


def test_the_contract_covers_every_repository() -> None:
    """A repository added to the unit of work without contract tests would drift unseen."""
    repositories = set(UnitOfWork.__annotations__)
    covered = {
        "organizations",
        "persons",
        "clients",
        "credentials",
        "training",
        "certifications",
        "supervision",
        "eligibility",
        "requests",
        "patients",
    }
    assert repositories == covered
