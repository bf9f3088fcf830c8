"""Handlers through the in-memory unit of work: create, idempotency, get, list, and who
may do which, with the audit trail each leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from unittest.mock import ANY
from uuid import uuid4

import pytest

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth import Principal, Role, principal_context
from peerbridge_platform.auth.scopes import ALL_SCOPES
from peerbridge_platform.errors import (
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from peerbridge_referrals.adapters.in_memory import (
    InMemoryDeniedAccessLog,
    InMemoryReferralRepository,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from peerbridge_referrals.bootstrap import bootstrap
from peerbridge_referrals.domain.commands import CreateReferral, PartyInput
from peerbridge_referrals.domain.disclosure import Disclosure
from peerbridge_referrals.domain.events import ReferralCreated
from peerbridge_referrals.domain.model import Referral
from peerbridge_referrals.domain.values import Status
from peerbridge_referrals.service_layer import handlers
from peerbridge_referrals.service_layer.audit import CREATE, DISCLOSE, LIST, READ, Access
from peerbridge_referrals.service_layer.pagination import PageLimits
from peerbridge_referrals.service_layer.queries import GetReferral, ListReferrals, ReferralPage

from ..conftest import synthetic_principal

CommandBuilder = Callable[..., CreateReferral]
Clock = Callable[[], datetime]


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def uow(store: InMemoryStore) -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(store)


# The coordinator of the program every synthetic command refers from: sees and creates all.
COORDINATOR = synthetic_principal()


async def create(
    command: CreateReferral,
    uow: InMemoryUnitOfWork,
    clock: Clock,
    caller: Principal = COORDINATOR,
) -> Referral:
    return await handlers.create_referral(
        command,
        uow,
        caller=caller,
        denials=InMemoryDeniedAccessLog(uow.store),
        clock=clock,
        new_id=uuid4,
    )


async def get(
    referral_id: str, uow: InMemoryUnitOfWork, caller: Principal = COORDINATOR
) -> Referral:
    read = await handlers.read_referral(
        GetReferral(referral_id), uow, caller=caller, denials=InMemoryDeniedAccessLog(uow.store)
    )
    return read.referral


# -- create ---------------------------------------------------------------


async def test_create_stores_a_requested_referral_and_publishes_the_fact(
    create_command: CreateReferral, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    referral = await create(create_command, uow, clock)

    assert referral.status is Status.REQUESTED
    assert referral.version == 1
    assert referral.subject_member_id == create_command.subject_member_id
    assert store.referrals == {referral.referral_id: referral}
    # No consent of the member: the FHIR view is the minimal one.
    assert store.published == [
        ReferralCreated(referral=referral, disclosure=Disclosure(None, withheld_because=ANY))
    ]


async def test_an_invalid_create_writes_nothing(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await create(make_command(reason="", priority=""), uow, clock)

    assert [v.field for v in caught.value.violations] == ["priority", "reason"]
    assert store.referrals == {}
    assert store.published == []
    assert store.commits == 0


async def test_a_retry_with_the_same_request_returns_the_first_referral(
    create_command: CreateReferral, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    first = await create(create_command, uow, clock)
    again = await create(create_command, uow, clock)

    assert again == first
    assert len(store.referrals) == 1
    assert len(store.published) == 1


async def test_reusing_a_request_id_for_other_content_is_a_conflict(
    create_command: CreateReferral, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    await create(create_command, uow, clock)

    with pytest.raises(Conflict):
        await create(replace(create_command, priority="routine"), uow, clock)

    assert len(store.referrals) == 1
    assert len(store.published) == 1


async def test_without_a_request_id_every_call_creates_a_referral(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    command = make_command(request_id="")

    first = await create(command, uow, clock)
    second = await create(command, uow, clock)

    assert first.referral_id != second.referral_id
    assert first.request_id is None
    assert len(store.published) == 2


class _RivalCommitsFirst(InMemoryReferralRepository):
    """Finds nothing by request id, as if a rival's transaction had not committed yet,
    then lets the rival commit before our insert."""

    def __init__(self, store: InMemoryStore, rival: Referral) -> None:
        super().__init__(store)
        self._rival: Referral | None = rival

    async def get_by_request_id(self, request_id: str) -> Referral | None:
        if self._rival is not None:
            self._store.referrals[self._rival.referral_id] = self._rival
            self._rival = None
            return None
        return await super().get_by_request_id(request_id)


class _RacingUnitOfWork(InMemoryUnitOfWork):
    def __init__(self, store: InMemoryStore, rival: Referral) -> None:
        super().__init__(store)
        self._rival: Referral | None = rival

    async def _begin(self) -> None:
        await super()._begin()
        if self._rival is not None:
            self.referrals = _RivalCommitsFirst(self.store, self._rival)
            self._rival = None


async def test_losing_a_race_returns_the_winners_referral(
    create_command: CreateReferral, store: InMemoryStore, clock: Clock
) -> None:
    winner = await create(create_command, InMemoryUnitOfWork(InMemoryStore()), clock)

    result = await create(create_command, _RacingUnitOfWork(store, winner), clock)

    assert result == winner
    assert list(store.referrals.values()) == [winner]
    assert store.published == []  # the winner's event was the winner's to publish


async def test_losing_a_race_with_other_content_is_a_conflict(
    create_command: CreateReferral, store: InMemoryStore, clock: Clock
) -> None:
    winner = await create(create_command, InMemoryUnitOfWork(InMemoryStore()), clock)

    with pytest.raises(Conflict):
        await create(
            replace(create_command, reason="Another reason."),
            _RacingUnitOfWork(store, winner),
            clock,
        )


async def test_concurrent_duplicates_create_one_referral(
    create_command: CreateReferral, store: InMemoryStore, clock: Clock
) -> None:
    results = await asyncio.gather(
        *(create(create_command, InMemoryUnitOfWork(store), clock) for _ in range(10))
    )

    assert len({r.referral_id for r in results}) == 1
    assert len(store.referrals) == 1
    assert len(store.published) == 1


# -- get ------------------------------------------------------------------


async def test_get_returns_the_stored_referral(
    create_command: CreateReferral, uow: InMemoryUnitOfWork, clock: Clock
) -> None:
    created = await create(create_command, uow, clock)

    found = await get(str(created.referral_id), uow)

    assert found == created


async def test_get_of_an_unknown_referral_is_not_found(uow: InMemoryUnitOfWork) -> None:
    with pytest.raises(NotFound):
        await get(str(uuid4()), uow)


@pytest.mark.parametrize(
    ("referral_id", "description"), [("", "is required"), ("r-1", "must be a UUID")]
)
async def test_get_needs_a_uuid(
    uow: InMemoryUnitOfWork, referral_id: str, description: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await get(referral_id, uow)

    assert caught.value.violations == [FieldViolation("referral_id", description)]


# -- list -----------------------------------------------------------------

LIMITS = PageLimits(default_size=3, max_size=5)


async def list_page(
    uow: InMemoryUnitOfWork, caller: Principal = COORDINATOR, **query: object
) -> ReferralPage:
    return await handlers.list_referrals(
        ListReferrals(**query),  # type: ignore[arg-type]
        uow,
        caller=caller,
        denials=InMemoryDeniedAccessLog(uow.store),
        limits=LIMITS,
    )


async def list_all(
    uow: InMemoryUnitOfWork, caller: Principal = COORDINATOR, **query: object
) -> list[list[Referral]]:
    pages: list[list[Referral]] = []
    token = ""
    while True:
        page = await list_page(uow, caller, page_token=token, **query)
        pages.append(page.referrals)
        token = page.next_page_token
        if not token:
            return pages


async def seed(
    count: int, make_command: CommandBuilder, uow: InMemoryUnitOfWork, clock: Clock, **fields: str
) -> list[Referral]:
    return [await create(make_command(**fields), uow, clock) for _ in range(count)]


async def test_list_pages_through_everything_newest_first(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, clock: Clock
) -> None:
    created = await seed(7, make_command, uow, clock)

    pages = await list_all(uow)

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [r.referral_id for p in pages for r in p] == [r.referral_id for r in reversed(created)]


async def test_list_of_an_exact_multiple_ends_without_an_empty_page(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, clock: Clock
) -> None:
    await seed(6, make_command, uow, clock)

    assert [len(p) for p in await list_all(uow)] == [3, 3]


async def test_list_of_nothing_is_one_empty_page(uow: InMemoryUnitOfWork) -> None:
    page = await list_page(uow)

    assert page.referrals == []
    assert page.next_page_token == ""


async def test_ties_in_create_time_are_broken_by_referral_id(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork
) -> None:
    same_instant = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    created = [await create(make_command(), uow, lambda: same_instant) for _ in range(5)]

    pages = await list_all(uow, page_size=2)

    listed = [r.referral_id for p in pages for r in p]
    assert listed == sorted((r.referral_id for r in created), reverse=True)


@pytest.mark.parametrize(("asked", "served"), [(0, 3), (1, 1), (5, 5), (500, 5)])
async def test_page_size_defaults_and_is_capped(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, clock: Clock, asked: int, served: int
) -> None:
    await seed(8, make_command, uow, clock)

    page = await list_page(uow, page_size=asked)

    assert len(page.referrals) == served


async def test_list_filters_by_member_and_status(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, clock: Clock
) -> None:
    theirs = await seed(4, make_command, uow, clock, subject_member_id="member-synthetic-a")
    await seed(3, make_command, uow, clock, subject_member_id="member-synthetic-b")

    by_member = await list_all(uow, subject_member_id="member-synthetic-a")
    requested = await list_all(uow, status="requested")
    accepted = await list_all(uow, status="accepted")

    assert {r.referral_id for p in by_member for r in p} == {r.referral_id for r in theirs}
    assert sum(len(p) for p in requested) == 7
    assert accepted == [[]]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"page_size": -1}, ["page_size"]),
        ({"status": ""}, ["status"]),
        ({"status": "lost"}, ["status"]),
        ({"subject_member_id": ""}, ["subject_member_id"]),
        ({"subject_member_id": "a b"}, ["subject_member_id"]),
        (
            {"page_size": -5, "status": "", "subject_member_id": "?"},
            ["page_size", "subject_member_id", "status"],
        ),
        ({"page_token": "not-a-token"}, ["page_token"]),
        ({"page_token": "e30"}, ["page_token"]),  # "{}"
    ],
)
async def test_invalid_list_requests_name_the_fields(
    uow: InMemoryUnitOfWork, query: dict[str, object], fields: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await list_page(uow, **query)

    assert [v.field for v in caught.value.violations] == fields


async def test_a_page_token_only_works_with_its_own_filters(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, clock: Clock
) -> None:
    await seed(4, make_command, uow, clock)
    first = await list_page(uow, status="requested")

    with pytest.raises(InvalidArgument) as caught:
        await list_page(uow, page_token=first.next_page_token)

    assert [v.field for v in caught.value.violations] == ["page_token"]


# -- access and audit -------------------------------------------------------

MEMBER = synthetic_principal("member-synthetic-001", (Role.MEMBER,), None)
OTHER_MEMBER = synthetic_principal("member-synthetic-002", (Role.MEMBER,), None)
SUPPORTER = synthetic_principal("supporter-test-7", (Role.PEER_SUPPORTER,))
ELSEWHERE = synthetic_principal("coordinator-test-2", organization_id="program-elsewhere-test")


MEMBER_ID = "member-synthetic-001"


async def test_a_create_is_audited_in_its_own_commit(
    create_command: CreateReferral, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    referral = await create(create_command, uow, clock, SUPPORTER)

    assert store.commits == 1
    assert store.audited == [
        Access(CREATE, str(referral.referral_id), "member-synthetic-001", PurposeOfUse.HOPERAT),
        Access(
            DISCLOSE, str(referral.referral_id), "member-synthetic-001", PurposeOfUse.TREAT, ANY
        ),
    ]
    assert store.denied == []


async def test_a_retry_is_audited_as_a_repeated_create(
    create_command: CreateReferral, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    await create(create_command, uow, clock)
    await create(create_command, uow, clock)

    assert [(a.action, a.reason) for a in store.audited] == [
        (CREATE, None),
        (DISCLOSE, ANY),
        (CREATE, "repeated request"),
    ]


@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        (
            synthetic_principal(
                "supporter-test-7", (Role.PEER_SUPPORTER,), "program-elsewhere-test"
            ),
            "requester.organization_id must be the caller's organization",
        ),
        (MEMBER, "requires scope referrals.write"),
        (
            synthetic_principal(roles=(Role.ADMIN,), scopes=frozenset(ALL_SCOPES)),
            "role admin cannot create referrals",
        ),
    ],
)
async def test_a_refused_create_writes_nothing_but_the_denial(
    create_command: CreateReferral,
    uow: InMemoryUnitOfWork,
    store: InMemoryStore,
    clock: Clock,
    caller: Principal,
    reason: str,
) -> None:
    with pytest.raises(PermissionDenied) as caught:
        await create(create_command, uow, clock, caller)

    assert caught.value.message == reason
    assert (store.referrals, store.published, store.audited, store.commits) == ({}, [], [], 0)
    assert store.denied == [Access(CREATE, None, "member-synthetic-001", ANY, reason)]


async def test_an_invalid_create_is_not_an_access_to_audit(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    with pytest.raises(InvalidArgument):
        await create(make_command(reason=""), uow, clock)

    assert (store.audited, store.denied) == ([], [])


async def test_a_member_reads_their_own_referral_and_the_read_is_audited(
    create_command: CreateReferral, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    created = await create(create_command, uow, clock)

    found = await get(str(created.referral_id), uow, MEMBER)

    assert found == created
    assert store.audited[-1] == Access(
        READ, str(created.referral_id), "member-synthetic-001", PurposeOfUse.PATRQT
    )


@pytest.mark.parametrize(
    "caller",
    [
        OTHER_MEMBER,
        ELSEWHERE,
        synthetic_principal(roles=(Role.ADMIN,), scopes=frozenset(ALL_SCOPES)),
    ],
    ids=["another member", "another program", "an administrator with every scope"],
)
async def test_someone_elses_referral_is_not_found_and_the_attempt_audited(
    create_command: CreateReferral,
    uow: InMemoryUnitOfWork,
    store: InMemoryStore,
    clock: Clock,
    caller: Principal,
) -> None:
    created = await create(create_command, uow, clock)

    with pytest.raises(NotFound):
        await get(str(created.referral_id), uow, caller)

    assert store.denied == [
        Access(
            READ,
            str(created.referral_id),
            "member-synthetic-001",
            ANY,
            "not visible to the caller",
        )
    ]
    assert [a.action for a in store.audited] == [CREATE, DISCLOSE]


async def test_probing_an_unknown_id_is_audited_too(
    uow: InMemoryUnitOfWork, store: InMemoryStore
) -> None:
    referral_id = str(uuid4())

    with pytest.raises(NotFound):
        await get(referral_id, uow, OTHER_MEMBER)

    assert store.denied == [
        Access(READ, referral_id, None, PurposeOfUse.PATRQT, "no such referral")
    ]


async def test_reading_without_the_scope_is_permission_denied(
    create_command: CreateReferral, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    created = await create(create_command, uow, clock)
    no_scope = synthetic_principal(scopes=frozenset({"referrals.write"}))

    with pytest.raises(PermissionDenied):
        await get(str(created.referral_id), uow, no_scope)
    with pytest.raises(PermissionDenied):
        await list_page(uow, no_scope)

    assert [(a.action, a.reason) for a in store.denied] == [
        (READ, "requires scope referrals.read"),
        (LIST, "requires scope referrals.read"),
    ]


async def test_a_list_holds_only_visible_referrals_in_full_pages(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    theirs = await seed(4, make_command, uow, clock, subject_member_id="member-synthetic-001")
    await seed(5, make_command, uow, clock, subject_member_id="member-synthetic-002")
    before = len(store.audited)

    pages = await list_all(uow, MEMBER)

    assert [len(p) for p in pages] == [3, 1]
    assert [r.referral_id for p in pages for r in p] == [r.referral_id for r in reversed(theirs)]
    assert [(a.action, a.referral_id) for a in store.audited[before:]] == [
        (LIST, str(r.referral_id)) for r in reversed(theirs)
    ]


async def test_a_member_naming_another_member_gets_an_empty_page_and_a_denial(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, store: InMemoryStore, clock: Clock
) -> None:
    await seed(2, make_command, uow, clock, subject_member_id="member-synthetic-002")

    page = await list_page(uow, MEMBER, subject_member_id="member-synthetic-002")

    assert page == ReferralPage(referrals=[], next_page_token="")
    assert store.denied == [
        Access(
            LIST, None, "member-synthetic-002", PurposeOfUse.PATRQT, "another member's referrals"
        )
    ]


async def test_a_coordinator_lists_only_their_programs_referrals(
    make_command: CommandBuilder, uow: InMemoryUnitOfWork, clock: Clock
) -> None:
    ours = await seed(3, make_command, uow, clock)
    elsewhere = make_command(
        requester=PartyInput(
            "peer_support_program", "program-elsewhere-test", "Elsewhere (test)", None
        )
    )
    theirs = [await create(elsewhere, uow, clock, ELSEWHERE) for _ in range(4)]

    assert {r.referral_id for p in await list_all(uow) for r in p} == {r.referral_id for r in ours}
    assert {r.referral_id for p in await list_all(uow, ELSEWHERE) for r in p} == {
        r.referral_id for r in theirs
    }


async def test_the_application_takes_the_caller_from_the_call_context(
    create_command: CreateReferral, store: InMemoryStore
) -> None:
    application = bootstrap(lambda: InMemoryUnitOfWork(store), InMemoryDeniedAccessLog(store))

    with pytest.raises(Unauthenticated):
        await application.create_referral(create_command)
    with principal_context(SUPPORTER, peer="ipv4:10.0.0.9:5555"):
        created = await application.create_referral(create_command)
        await application.read_referral(GetReferral(str(created.referral_id)))
    with principal_context(OTHER_MEMBER), pytest.raises(NotFound):
        await application.read_referral(GetReferral(str(created.referral_id)))
