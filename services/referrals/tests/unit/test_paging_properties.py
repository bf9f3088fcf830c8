"""Paging visits every referral exactly once, newest first, whatever the sizes and ties."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from peerbridge_referrals.adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from peerbridge_referrals.domain.commands import CreateReferral, PartyInput
from peerbridge_referrals.service_layer import handlers
from peerbridge_referrals.service_layer.pagination import PageLimits
from peerbridge_referrals.service_layer.queries import ListReferrals

V = TypeVar("V")
T0 = datetime(2026, 3, 1, tzinfo=UTC)
COMMAND = CreateReferral(
    request_id="",
    subject_member_id="member-synthetic-001",
    direction="peer_support_to_clinic",
    category="housing",
    priority="routine",
    reason="Needs stable housing to keep attending groups.",
    requester=PartyInput("peer_support_program", "program-p", "Program P (test)"),
    recipient=PartyInput("clinic", "clinic-c", "Clinic C (test)"),
)


def always(value: V) -> Callable[[], V]:
    return lambda: value


async def page_through(offsets: list[int], ids: list[int], page_size: int) -> None:
    uow = InMemoryUnitOfWork(InMemoryStore())
    created = []
    for offset, number in zip(offsets, ids, strict=True):
        # Few distinct instants, so ties in create time are common.
        created.append(
            await handlers.create_referral(
                COMMAND,
                uow,
                clock=always(T0 + timedelta(microseconds=offset)),
                new_id=always(UUID(int=number)),
            )
        )
    seen: list[UUID] = []
    token = ""
    limits = PageLimits(default_size=page_size, max_size=page_size)
    while True:
        page = await handlers.list_referrals(ListReferrals(page_token=token), uow, limits=limits)
        assert len(page.referrals) <= page_size
        seen += [r.referral_id for r in page.referrals]
        token = page.next_page_token
        if not token:
            break
    expected = sorted(created, key=lambda r: (r.create_time, r.referral_id), reverse=True)
    assert seen == [r.referral_id for r in expected]


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 2**64)), max_size=25, unique_by=lambda t: t[1]
    ),
    page_size=st.integers(1, 7),
)
def test_paging_visits_each_referral_once_in_order(
    data: list[tuple[int, int]], page_size: int
) -> None:
    offsets = [offset for offset, _ in data]
    ids = [number for _, number in data]
    asyncio.run(page_through(offsets, ids, page_size))
