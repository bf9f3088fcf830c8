"""Paging visits every referral the caller may see exactly once, newest first, in full pages,
whatever the sizes, ties and mix of other people's referrals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from peerbridge_platform.auth import Principal, Role
from peerbridge_referrals.adapters.in_memory import (
    InMemoryDeniedAccessLog,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from peerbridge_referrals.domain.access_rules import visibility_for
from peerbridge_referrals.domain.commands import CreateReferral, PartyInput
from peerbridge_referrals.service_layer import handlers
from peerbridge_referrals.service_layer.pagination import PageLimits
from peerbridge_referrals.service_layer.queries import ListReferrals

from ..conftest import synthetic_principal

V = TypeVar("V")
T0 = datetime(2026, 3, 1, tzinfo=UTC)
MEMBERS = ("member-synthetic-001", "member-synthetic-002")
PROGRAMS = ("program-p", "program-q")
COMMAND = CreateReferral(
    request_id="",
    subject_member_id=MEMBERS[0],
    direction="peer_support_to_clinic",
    category="housing",
    priority="routine",
    reason="Needs stable housing to keep attending groups.",
    requester=PartyInput("peer_support_program", PROGRAMS[0], "Program P (test)"),
    recipient=PartyInput("clinic", "clinic-c", "Clinic C (test)"),
)
# Creators that may create every referral here, and the callers who list them.
CREATOR = synthetic_principal(
    roles=(Role.PARTNER_CLIENT,), scopes=frozenset({"referrals.write"}), client_id="app-test"
)
CALLERS = (
    synthetic_principal(MEMBERS[0], (Role.MEMBER,), None),
    synthetic_principal(organization_id=PROGRAMS[1]),
    synthetic_principal(roles=(Role.CLINICIAN,), organization_id="clinic-c"),
    synthetic_principal(roles=(Role.ADMIN,), scopes=frozenset({"referrals.read"})),
)


def always(value: V) -> Callable[[], V]:
    return lambda: value


def command_of(member: int, program: int) -> CreateReferral:
    requester = replace(COMMAND.requester, organization_id=PROGRAMS[program])  # type: ignore[arg-type]
    return replace(COMMAND, subject_member_id=MEMBERS[member], requester=requester)


async def page_through(
    referrals: list[tuple[int, int, int, int]], page_size: int, caller: Principal
) -> None:
    store = InMemoryStore()
    uow = InMemoryUnitOfWork(store)
    denials = InMemoryDeniedAccessLog(store)
    created = []
    for offset, number, member, program in referrals:
        creator = replace(CREATOR, organization_id=PROGRAMS[program])
        # Few distinct instants, so ties in create time are common.
        created.append(
            await handlers.create_referral(
                command_of(member, program),
                uow,
                caller=creator,
                denials=denials,
                clock=always(T0 + timedelta(microseconds=offset)),
                new_id=always(UUID(int=number)),
            )
        )
    pages: list[list[UUID]] = []
    token = ""
    limits = PageLimits(default_size=page_size, max_size=page_size)
    while True:
        page = await handlers.list_referrals(
            ListReferrals(page_token=token), uow, caller=caller, denials=denials, limits=limits
        )
        pages.append([r.referral_id for r in page.referrals])
        token = page.next_page_token
        if not token:
            break
    visible = visibility_for(caller)
    expected = sorted(
        (r for r in created if visible.admits(r)),
        key=lambda r: (r.create_time, r.referral_id),
        reverse=True,
    )
    assert [rid for page in pages for rid in page] == [r.referral_id for r in expected]
    # Filtered in the query, not after it: every page but the last is full.
    assert all(len(page) == page_size for page in pages[:-1])


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 2**64), st.integers(0, 1), st.integers(0, 1)),
        max_size=25,
        unique_by=lambda t: t[1],
    ),
    page_size=st.integers(1, 7),
    caller=st.sampled_from(CALLERS),
)
def test_paging_visits_each_visible_referral_once_in_order(
    data: list[tuple[int, int, int, int]], page_size: int, caller: Principal
) -> None:
    asyncio.run(page_through(data, page_size, caller))
