"""One contract for the referrals port: the in-memory fake and the gRPC adapter (against the
real service) answer alike, so the unit tests' fake cannot drift from the real thing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_gateway.clients.in_memory import InMemoryReferrals
from peerbridge_gateway.clients.referrals import (
    Category,
    Direction,
    NewReferral,
    Party,
    PartyKind,
    Priority,
    ReferralQuery,
    ReferralsClient,
    Status,
)
from peerbridge_gateway.clients.referrals_grpc import GrpcReferralsClient
from peerbridge_platform.auth import Role
from peerbridge_platform.grpc import Caller

from .conftest import TokenIssuer

# The contract's referrals are requested by this clinic; its clinician may see them all.
CLINIC = "clinic-contract"
CLINICIAN = "person-contract-clinician"


def new_referral(member: str, **changes: Any) -> NewReferral:
    fields: dict[str, Any] = {
        "subject_member_id": member,
        "direction": Direction.CLINIC_TO_PEER_SUPPORT,
        "category": Category.PEER_SUPPORT,
        "priority": Priority.ROUTINE,
        "reason": "Discharged from detox; wants a peer supporter.",
        "requester": Party(PartyKind.CLINIC, CLINIC, "Contract Clinic", "dr-test-1"),
        "recipient": Party(PartyKind.PEER_SUPPORT_PROGRAM, "program-contract", "Contract Peers"),
    }
    return NewReferral(**(fields | changes))


def member() -> str:
    return f"member-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["memory", pytest.param("grpc", marks=pytest.mark.integration)])
def grpc_target(request: pytest.FixtureRequest) -> str | None:
    """None for the in-memory twin; else where the real referrals service listens."""
    if request.param == "memory":
        return None
    target: str = request.getfixturevalue("referrals_service").target
    return target


@pytest.fixture
def caller(request: pytest.FixtureRequest, grpc_target: str | None) -> Caller:
    """A clinician of the requesting clinic, as the gateway forwards them: the real service
    verifies the signed token it carries (the in-memory twin trusts its caller)."""
    if grpc_target is None:
        return Caller(principal=f"person:{CLINICIAN}")
    issuer: TokenIssuer = request.getfixturevalue("token_issuer")
    token = issuer.mint(subject=CLINICIAN, roles=[Role.CLINICIAN], organization_id=CLINIC)
    return Caller(principal=f"person:{CLINICIAN}", bearer_token=token)


@pytest.fixture
async def client(grpc_target: str | None) -> AsyncIterator[ReferralsClient]:
    if grpc_target is None:
        yield InMemoryReferrals()
        return
    adapter = GrpcReferralsClient.connect(grpc_target, timeout_s=5.0)
    try:
        yield adapter
    finally:
        await adapter.close()


async def test_a_created_referral_is_requested_and_readable(
    client: ReferralsClient, caller: Caller
) -> None:
    new = new_referral(member())
    created = await client.create_referral(new, caller=caller, idempotency_key=str(uuid.uuid4()))
    assert (created.status, created.version) == (Status.REQUESTED, 1)
    assert created.requester == new.requester
    assert created.recipient == new.recipient
    assert created.created_at.tzinfo is not None
    assert await client.get_referral(created.referral_id, caller=caller) == created


async def test_one_key_one_referral_and_never_another(
    client: ReferralsClient, caller: Caller
) -> None:
    new, key = new_referral(member()), str(uuid.uuid4())
    first = await client.create_referral(new, caller=caller, idempotency_key=key)
    again = await client.create_referral(new, caller=caller, idempotency_key=key)
    assert again.referral_id == first.referral_id
    other = new_referral(new.subject_member_id, priority=Priority.STAT)
    with pytest.raises(ServiceError) as raised:
        await client.create_referral(other, caller=caller, idempotency_key=key)
    assert raised.value.code is grpc.StatusCode.ABORTED


async def test_without_a_key_every_call_creates(client: ReferralsClient, caller: Caller) -> None:
    new = new_referral(member())
    first = await client.create_referral(new, caller=caller, idempotency_key=None)
    second = await client.create_referral(new, caller=caller, idempotency_key=None)
    assert first.referral_id != second.referral_id


async def test_an_unknown_referral_is_not_found(client: ReferralsClient, caller: Caller) -> None:
    with pytest.raises(ServiceError) as raised:
        await client.get_referral(str(uuid.uuid4()), caller=caller)
    assert raised.value.code is grpc.StatusCode.NOT_FOUND


async def test_lists_are_newest_first_filtered_and_paged(
    client: ReferralsClient, caller: Caller
) -> None:
    someone, other = member(), member()
    made = [
        (await client.create_referral(new_referral(someone), caller=caller, idempotency_key=None))
        for _ in range(3)
    ]
    await client.create_referral(new_referral(other), caller=caller, idempotency_key=None)
    first = await client.list_referrals(
        ReferralQuery(limit=2, subject_member_id=someone), caller=caller
    )
    assert first.next_cursor is not None
    second = await client.list_referrals(
        ReferralQuery(limit=2, subject_member_id=someone, cursor=first.next_cursor), caller=caller
    )
    assert second.next_cursor is None
    seen = [r.referral_id for r in first.items + second.items]
    assert seen == [r.referral_id for r in reversed(made)]
    by_status = await client.list_referrals(
        ReferralQuery(limit=10, subject_member_id=someone, status=Status.COMPLETED), caller=caller
    )
    assert by_status.items == []


async def test_a_cursor_from_other_filters_is_refused_as_cursor(
    client: ReferralsClient, caller: Caller
) -> None:
    someone = member()
    for _ in range(2):
        await client.create_referral(new_referral(someone), caller=caller, idempotency_key=None)
    page = await client.list_referrals(
        ReferralQuery(limit=1, subject_member_id=someone), caller=caller
    )
    assert page.next_cursor is not None
    with pytest.raises(ServiceError) as raised:
        await client.list_referrals(
            ReferralQuery(limit=1, subject_member_id=member(), cursor=page.next_cursor),
            caller=caller,
        )
    assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in raised.value.violations] == ["cursor"]


async def test_it_reports_serving(client: ReferralsClient) -> None:
    await client.check_serving()
