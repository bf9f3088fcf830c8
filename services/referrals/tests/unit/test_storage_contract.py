"""One contract for referral storage, run against the in-memory fake and PostgreSQL (asyncpg).

The fake is only worth having if it behaves like the real thing; these tests
are written once and hold for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from peerbridge_referrals.adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from peerbridge_referrals.adapters.postgres_unit_of_work import PostgresUnitOfWork
from peerbridge_referrals.adapters.reason_cipher import ReasonCipher
from peerbridge_referrals.adapters.schema import migrate, referrals_migrations
from peerbridge_referrals.domain.access_rules import Visibility
from peerbridge_referrals.domain.commands import CreateReferral, PartyInput
from peerbridge_referrals.domain.disclosure import DisclosureEntry, DisclosureVisibility, log_entry
from peerbridge_referrals.domain.events import DomainEvent, ReferralStatusChanged
from peerbridge_referrals.domain.lifecycle import Actor, Side
from peerbridge_referrals.domain.model import Referral, open_referral
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import Status
from peerbridge_referrals.service_layer.repository import (
    Cursor,
    DisclosureCursor,
    DuplicateRequestId,
    ReferralFilter,
    StaleVersion,
)
from peerbridge_referrals.service_layer.unit_of_work import UnitOfWork

from ..conftest import PROGRAM
from ..consent_builders import MEMBER, synthetic_consent

CommandBuilder = Callable[..., CreateReferral]
UowFactory = Callable[[], UnitOfWork]
T0 = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)


def a_referral(
    make_command: CommandBuilder,
    *,
    at: datetime = T0,
    referral_id: UUID | None = None,
    request_id: str | None = None,
    **changes: object,
) -> Referral:
    command = make_command(**changes)
    referral, _ = open_referral(
        validate_new_referral(command),
        referral_id=referral_id or uuid4(),
        request_id=request_id,
        now=at,
    )
    return referral


async def store(uow_factory: UowFactory, *referrals: Referral) -> None:
    async with uow_factory() as uow:
        for referral in referrals:
            await uow.referrals.add(referral)
        await uow.commit()


async def listing(
    uow_factory: UowFactory,
    where: ReferralFilter | None = None,
    after: Cursor | None = None,
    limit: int = 100,
) -> list[UUID]:
    async with uow_factory() as uow:
        found = await uow.referrals.list(where or ReferralFilter(), after=after, limit=limit)
    return [r.referral_id for r in found]


UntilBlocked = Callable[[asyncio.Task[None]], Awaitable[None]]


class StorageContract:
    """Subclasses provide `uow_factory` (fresh units of work over one empty store) and
    `until_blocked` (returns once a task is waiting on another transaction's insert)."""

    async def test_a_stored_referral_reads_back_equal(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        referral = a_referral(make_command, request_id="req-1")
        await store(uow_factory, referral)

        async with uow_factory() as uow:
            by_id = await uow.referrals.get(referral.referral_id)
            by_request = await uow.referrals.get_by_request_id("req-1")

        assert by_id == referral
        assert by_request == referral

    async def test_every_field_survives_the_round_trip(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        referral = a_referral(
            make_command,
            direction="clinic_to_peer_support",
            category="peer_support",
            priority="stat",
            reason="Ünïcödé reason — with 'quotes' and\nnew lines.",
            requester=PartyInput("clinic", "clinic-x", "Clínica Ñandú (test)", "dr-test-1"),
            recipient=PartyInput("peer_support_program", "program-y", "Program Y (test)"),
            request_id="req-round-trip",
        )
        referral = replace(
            referral, status=Status.ON_HOLD, version=7, update_time=T0 + timedelta(days=3)
        )
        await store(uow_factory, referral)

        async with uow_factory() as uow:
            assert await uow.referrals.get(referral.referral_id) == referral

    async def test_unknown_ids_read_as_none(self, uow_factory: UowFactory) -> None:
        async with uow_factory() as uow:
            assert await uow.referrals.get(uuid4()) is None
            assert await uow.referrals.get_by_request_id("never-used") is None

    async def test_nothing_is_kept_without_commit(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        referral = a_referral(make_command, request_id="req-rolled-back")
        async with uow_factory() as uow:
            await uow.referrals.add(referral)
            assert await uow.referrals.get(referral.referral_id) == referral

        async with uow_factory() as uow:
            assert await uow.referrals.get(referral.referral_id) is None
            assert await uow.referrals.get_by_request_id("req-rolled-back") is None

    async def test_an_error_inside_rolls_back(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        referral = a_referral(make_command)

        async def fail_after_adding() -> None:
            async with uow_factory() as uow:
                await uow.referrals.add(referral)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await fail_after_adding()

        assert await listing(uow_factory) == []

    async def test_a_unit_of_work_can_be_used_again(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        first, second = a_referral(make_command), a_referral(make_command)
        uow = uow_factory()
        async with uow:
            await uow.referrals.add(first)
            await uow.commit()
        async with uow:
            await uow.referrals.add(second)
            await uow.commit()

        assert set(await listing(uow_factory)) == {first.referral_id, second.referral_id}

    async def test_a_taken_request_id_is_refused(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        await store(uow_factory, a_referral(make_command, request_id="req-taken"))

        with pytest.raises(DuplicateRequestId):
            await store(uow_factory, a_referral(make_command, request_id="req-taken"))

        assert len(await listing(uow_factory)) == 1

    async def test_referrals_without_request_id_never_clash(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        await store(uow_factory, *(a_referral(make_command) for _ in range(3)))

        assert len(await listing(uow_factory)) == 3

    async def test_concurrent_adds_with_one_request_id_keep_one(
        self, uow_factory: UowFactory, until_blocked: UntilBlocked, make_command: CommandBuilder
    ) -> None:
        first = a_referral(make_command, request_id="req-race")
        second = a_referral(make_command, request_id="req-race")

        async with uow_factory() as winner:
            await winner.referrals.add(first)
            # The loser's insert waits for the winner's transaction to end.
            loser = asyncio.create_task(store(uow_factory, second))
            await until_blocked(loser)
            await winner.commit()
        with pytest.raises(DuplicateRequestId):
            await asyncio.wait_for(loser, timeout=10)

        assert await listing(uow_factory) == [first.referral_id]

    async def test_a_request_id_is_free_again_when_its_first_user_rolls_back(
        self, uow_factory: UowFactory, until_blocked: UntilBlocked, make_command: CommandBuilder
    ) -> None:
        first = a_referral(make_command, request_id="req-retry")
        second = a_referral(make_command, request_id="req-retry")

        async with uow_factory() as abandoned:
            await abandoned.referrals.add(first)
            waiting = asyncio.create_task(store(uow_factory, second))
            await until_blocked(waiting)
        await asyncio.wait_for(waiting, timeout=10)

        assert await listing(uow_factory) == [second.referral_id]

    async def test_listing_is_newest_first_and_ties_break_by_id(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        older = a_referral(make_command, at=T0)
        tied = [a_referral(make_command, at=T0 + timedelta(seconds=1)) for _ in range(4)]
        newest = a_referral(make_command, at=T0 + timedelta(seconds=2))
        await store(uow_factory, older, *tied, newest)

        expected = [
            newest.referral_id,
            *sorted((r.referral_id for r in tied), reverse=True),
            older.referral_id,
        ]
        assert await listing(uow_factory) == expected

    async def test_listing_continues_strictly_after_the_cursor(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        referrals = [
            a_referral(make_command, at=T0 + timedelta(microseconds=n % 3)) for n in range(9)
        ]
        await store(uow_factory, *referrals)
        everything = await listing(uow_factory)

        pages: list[UUID] = []
        after: Cursor | None = None
        while True:
            page = await listing(uow_factory, after=after, limit=2)
            if not page:
                break
            pages += page
            last = next(r for r in referrals if r.referral_id == page[-1])
            after = Cursor(last.create_time, last.referral_id)

        assert pages == everything
        assert len(everything) == 9

    async def test_listing_respects_the_limit(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        await store(uow_factory, *(a_referral(make_command) for _ in range(5)))

        assert len(await listing(uow_factory, limit=3)) == 3

    async def test_listing_filters_by_member_and_by_status(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        mine = a_referral(make_command, subject_member_id="member-synthetic-a")
        mine_accepted = replace(
            a_referral(make_command, subject_member_id="member-synthetic-a"),
            status=Status.ACCEPTED,
        )
        theirs = a_referral(make_command, subject_member_id="member-synthetic-b")
        await store(uow_factory, mine, mine_accepted, theirs)

        by_member = await listing(
            uow_factory, ReferralFilter(subject_member_id="member-synthetic-a")
        )
        by_status = await listing(uow_factory, ReferralFilter(status=Status.REQUESTED))
        by_both = await listing(
            uow_factory,
            ReferralFilter(subject_member_id="member-synthetic-a", status=Status.ACCEPTED),
        )

        assert set(by_member) == {mine.referral_id, mine_accepted.referral_id}
        assert set(by_status) == {mine.referral_id, theirs.referral_id}
        assert by_both == [mine_accepted.referral_id]

    async def test_listing_returns_only_what_the_caller_may_see(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        elsewhere = PartyInput("peer_support_program", "program-q", "Program Q (test)", "supp-q")
        about_a = a_referral(make_command, subject_member_id="member-synthetic-a")
        requested_by_q = a_referral(make_command, requester=elsewhere)
        to_clinic_r = a_referral(
            make_command,
            requester=elsewhere,
            recipient=PartyInput("clinic", "clinic-r", "Clinic R (test)"),
        )
        await store(uow_factory, about_a, requested_by_q, to_clinic_r)

        def visible(**sets: frozenset[Any]) -> Awaitable[list[UUID]]:
            return listing(uow_factory, ReferralFilter(visible_to=Visibility(**sets)))

        assert await visible() == []
        assert await visible(member_ids=frozenset({"member-synthetic-a"})) == [about_a.referral_id]
        assert set(await visible(requests_of=frozenset({("program-q", "supp-q")}))) == {
            requested_by_q.referral_id,
            to_clinic_r.referral_id,
        }
        assert await visible(requests_of=frozenset({("program-p", "supp-q")})) == []
        assert await visible(organization_ids=frozenset({"clinic-r"})) == [to_clinic_r.referral_id]
        assert set(
            await visible(
                member_ids=frozenset({"member-synthetic-a"}),
                organization_ids=frozenset({"clinic-r"}),
            )
        ) == {about_a.referral_id, to_clinic_r.referral_id}

    async def test_a_status_change_reads_back_with_its_texts(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        referral = a_referral(make_command)
        await store(uow_factory, referral)
        changed = _changed(referral, Status.COMPLETED, outcome="Seen twice (test).")

        async with uow_factory() as uow:
            await uow.referrals.update_status(changed)
            await uow.commit()
        async with uow_factory() as uow:
            found = await uow.referrals.get(referral.referral_id)

        assert found == changed.referral

    async def test_a_status_change_from_a_stale_version_is_refused(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        referral = a_referral(make_command)
        await store(uow_factory, referral)
        first = _changed(referral, Status.ACCEPTED)
        second = _changed(referral, Status.REJECTED, status_reason="Full (test).")
        async with uow_factory() as uow:
            await uow.referrals.update_status(first)
            await uow.commit()

        async with uow_factory() as uow:
            with pytest.raises(StaleVersion):
                await uow.referrals.update_status(second)
        async with uow_factory() as uow:
            assert await uow.referrals.get(referral.referral_id) == first.referral

    async def test_the_disclosure_log_reads_back_newest_first_after_the_cursor(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        made = await _disclosed(uow_factory, make_command, 3)
        mine = DisclosureVisibility(member_ids=frozenset({MEMBER}))

        async with uow_factory() as uow:
            everything = await uow.disclosures.list_for_member(MEMBER, mine, after=None, limit=10)
            last = everything[0]
            assert last.disclosure_id is not None
            cursor = DisclosureCursor(last.disclosed_at, last.disclosure_id)
            rest = await uow.disclosures.list_for_member(MEMBER, mine, after=cursor, limit=1)

        assert [replace(e, disclosure_id=None) for e in everything] == made[::-1]
        assert rest == everything[1:2]

    async def test_the_disclosure_log_returns_only_what_the_caller_may_read(
        self, uow_factory: UowFactory, make_command: CommandBuilder
    ) -> None:
        await _disclosed(uow_factory, make_command, 1)
        program = DisclosureVisibility(program_ids=frozenset({PROGRAM}))
        others = [
            DisclosureVisibility(member_ids=frozenset({"member-synthetic-002"})),
            DisclosureVisibility(program_ids=frozenset({"program-other-test"})),
        ]

        async with uow_factory() as uow:
            found = await uow.disclosures.list_for_member(MEMBER, program, after=None, limit=10)
            hidden = [
                await uow.disclosures.list_for_member(MEMBER, v, after=None, limit=10)
                for v in others
            ]

        assert len(found) == 1
        assert hidden == [[], []]


async def _disclosed(
    uow_factory: UowFactory, make_command: CommandBuilder, count: int
) -> list[DisclosureEntry]:
    """`count` referrals of MEMBER from PROGRAM, each disclosed under one consent, a minute
    apart; the log entries, oldest first."""
    consent = synthetic_consent()
    entries = []
    async with uow_factory() as uow:
        await uow.consents.add(consent)
        for n in range(count):
            referral = a_referral(make_command, at=T0 + timedelta(minutes=n))
            await uow.referrals.add(referral)
            entries.append(log_entry(referral, consent, referral.create_time))
            await uow.disclosures.add(entries[-1])
        await uow.commit()
    return entries


def _changed(referral: Referral, to: Status, **changes: Any) -> ReferralStatusChanged:
    after = replace(
        referral,
        status=to,
        version=referral.version + 1,
        update_time=referral.update_time + timedelta(minutes=5),
        **changes,
    )
    return ReferralStatusChanged(
        after, referral.status, Actor("clinician-test-1", "c", Side.PERFORMER)
    )


class TestInMemoryStorage(StorageContract):
    @pytest.fixture
    def shared(self) -> InMemoryStore:
        return InMemoryStore()

    @pytest.fixture
    def uow_factory(self, shared: InMemoryStore) -> UowFactory:
        return lambda: InMemoryUnitOfWork(shared)

    @pytest.fixture
    def until_blocked(self) -> UntilBlocked:
        async def wait(task: asyncio.Task[None]) -> None:
            # Single-threaded and without I/O: a few turns of the loop bring the
            # task to its wait on the other's claim.
            for _ in range(10):
                await asyncio.sleep(0)
            assert not task.done(), task

        return wait


async def _ignore_events(connection: object, event: DomainEvent) -> None:
    """This contract is about storage; the outbox has tests of its own."""


@pytest.mark.integration
class TestPostgresStorage(StorageContract):
    @pytest.fixture
    async def uow_factory(
        self, database_url: str, cipher: ReasonCipher
    ) -> AsyncIterator[UowFactory]:
        await migrate(database_url, referrals_migrations())
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        try:
            yield lambda: PostgresUnitOfWork(pool, cipher, _ignore_events)
        finally:
            await pool.close()

    @pytest.fixture
    def until_blocked(self, database_url: str) -> UntilBlocked:
        async def wait(task: asyncio.Task[None]) -> None:
            watcher = await asyncpg.connect(database_url)
            try:
                deadline = asyncio.get_running_loop().time() + 10
                while not await watcher.fetchval(_WAITING_ON_A_LOCK):
                    assert not task.done(), task
                    assert asyncio.get_running_loop().time() < deadline, "never blocked"
                    await asyncio.sleep(0.01)
            finally:
                await watcher.close()

        return wait


_WAITING_ON_A_LOCK = """
SELECT count(*) > 0 FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'
"""
