"""The accounting of disclosures through the in-memory unit of work: who reads which
member's log, paging, and the audit trail each read leaves."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from peerbridge_platform.auth import Principal, Role
from peerbridge_platform.auth.scopes import REFERRALS_WRITE
from peerbridge_platform.errors import InvalidArgument, PermissionDenied
from peerbridge_referrals.adapters.in_memory import (
    InMemoryDeniedAccessLog,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from peerbridge_referrals.domain.disclosure import log_entry
from peerbridge_referrals.domain.model import open_referral
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.service_layer import disclosure_handlers
from peerbridge_referrals.service_layer.audit import DISCLOSURE_LIST, DISCLOSURE_LOG
from peerbridge_referrals.service_layer.pagination import PageLimits
from peerbridge_referrals.service_layer.queries import DisclosurePage, ListDisclosures

from ..conftest import CLINIC, synthetic_create_command, synthetic_principal
from ..consent_builders import MEMBER, NOW, synthetic_consent

THE_MEMBER = synthetic_principal(MEMBER, (Role.MEMBER,), None)
OTHER_MEMBER = synthetic_principal("member-synthetic-002", (Role.MEMBER,), None)
COORDINATOR = synthetic_principal()
SUPERVISOR = synthetic_principal("supervisor-test-1", (Role.SUPERVISOR,))
SUPPORTER = synthetic_principal("supporter-test-7", (Role.PEER_SUPPORTER,))
CLINICIAN = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
OTHER_COORDINATOR = synthetic_principal("coordinator-test-9", organization_id="program-other")


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


async def disclosed(store: InMemoryStore, count: int = 1) -> list[str]:
    """`count` referrals of the member from the program, each disclosed under a consent,
    a minute apart; their ids, oldest first."""
    consent = synthetic_consent()
    made = []
    async with InMemoryUnitOfWork(store) as uow:
        await uow.consents.add(consent)
        for n in range(count):
            at = NOW + timedelta(minutes=n)
            referral, _ = open_referral(
                validate_new_referral(synthetic_create_command()),
                referral_id=uuid4(),
                request_id=None,
                now=at,
            )
            await uow.referrals.add(referral)
            await uow.disclosures.add(log_entry(referral, consent, at))
            made.append(str(referral.referral_id))
        await uow.commit()
    return made


async def list_log(
    store: InMemoryStore,
    caller: Principal,
    member: str = MEMBER,
    page_size: int = 0,
    page_token: str = "",
) -> DisclosurePage:
    return await disclosure_handlers.list_disclosures(
        ListDisclosures(member, page_size, page_token),
        InMemoryUnitOfWork(store),
        caller=caller,
        denials=InMemoryDeniedAccessLog(store),
        limits=PageLimits(default_size=2, max_size=3),
    )


@pytest.mark.parametrize("caller", [THE_MEMBER, COORDINATOR, SUPERVISOR])
async def test_the_member_and_the_disclosing_programs_staff_read_the_log(
    store: InMemoryStore, caller: Principal
) -> None:
    [referral_id] = await disclosed(store)

    page = await list_log(store, caller)

    [entry] = page.disclosures
    assert (entry.referral_id, entry.recipient_organization_id) == (referral_id, CLINIC)
    assert entry.disclosure_id == 1
    assert page.next_page_token == ""
    [audited] = store.audited
    assert (audited.action, audited.resource_type) == (DISCLOSURE_LIST, DISCLOSURE_LOG)
    assert (audited.subject_member_id, audited.reason) == (MEMBER, "1 listed")


async def test_the_members_own_read_is_at_their_request(store: InMemoryStore) -> None:
    await disclosed(store)
    await list_log(store, THE_MEMBER)
    assert store.audited[0].purpose == "PATRQT"


async def test_another_member_gets_an_empty_page_and_a_denied_record(
    store: InMemoryStore,
) -> None:
    await disclosed(store)

    page = await list_log(store, OTHER_MEMBER)

    assert page == DisclosurePage([], "")
    [denied] = store.denied
    assert (denied.action, denied.subject_member_id) == (DISCLOSURE_LIST, MEMBER)
    assert denied.reason == "another member's disclosures"
    assert store.audited == []


@pytest.mark.parametrize("caller", [OTHER_COORDINATOR, SUPPORTER, CLINICIAN])
async def test_staff_outside_the_rule_see_none_of_the_entries(
    store: InMemoryStore, caller: Principal
) -> None:
    await disclosed(store)
    page = await list_log(store, caller)
    assert page.disclosures == []


async def test_an_empty_log_is_still_an_audited_read(store: InMemoryStore) -> None:
    page = await list_log(store, THE_MEMBER)
    assert page == DisclosurePage([], "")
    assert [a.reason for a in store.audited] == ["0 listed"]


async def test_pages_are_newest_first_and_cover_the_log(store: InMemoryStore) -> None:
    made = await disclosed(store, count=3)

    first = await list_log(store, THE_MEMBER)
    second = await list_log(store, THE_MEMBER, page_token=first.next_page_token)

    assert [e.referral_id for e in first.disclosures] == [made[2], made[1]]
    assert [e.referral_id for e in second.disclosures] == [made[0]]
    assert second.next_page_token == ""


async def test_a_token_serves_only_its_own_member(store: InMemoryStore) -> None:
    await disclosed(store, count=3)
    first = await list_log(store, COORDINATOR)

    with pytest.raises(InvalidArgument):
        await list_log(store, COORDINATOR, "member-synthetic-002", page_token=first.next_page_token)


@pytest.mark.parametrize(
    ("member", "page_size", "field"),
    [("", 0, "subject_member_id"), (MEMBER, -1, "page_size")],
)
async def test_bad_requests_are_refused_before_anything_is_read(
    store: InMemoryStore, member: str, page_size: int, field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await list_log(store, THE_MEMBER, member, page_size)
    assert [v.field for v in caught.value.violations] == [field]
    assert store.audited == store.denied == []


async def test_reading_the_log_needs_the_read_scope(store: InMemoryStore) -> None:
    without_read = replace(COORDINATOR, scopes=frozenset({REFERRALS_WRITE}))

    with pytest.raises(PermissionDenied):
        await list_log(store, without_read)

    assert [d.reason for d in store.denied] == ["requires scope referrals.read"]
