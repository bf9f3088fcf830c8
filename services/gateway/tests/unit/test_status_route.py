"""`POST /v1/referrals/{id}/status`: the HTTP side of a status change, over the in-memory
referrals port (the service's rules are tested in the referrals service and, through
the gateway, in the integration tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest

from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_gateway.clients.in_memory import InMemoryReferrals
from peerbridge_platform.auth.scopes import REFERRALS_READ
from peerbridge_platform.errors import FieldViolation

from ..conftest import PROBLEM
from .conftest import Mint

ReferralBody = Callable[..., dict[str, Any]]


@pytest.fixture
async def referral_id(client: httpx.AsyncClient, referral_body: ReferralBody) -> str:
    created = await client.post("/v1/referrals", json=referral_body())
    assert created.status_code == 201, created.text
    referral_id: str = created.json()["referral_id"]
    return referral_id


async def test_a_status_change_answers_the_referral_as_it_now_is(
    client: httpx.AsyncClient, referral_id: str
) -> None:
    rejected = await client.post(
        f"/v1/referrals/{referral_id}/status",
        json={
            "status": "rejected",
            "reason": "No openings this month.",
            "reason_category": "no_capacity",
            "expected_version": 1,
        },
    )

    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert (body["status"], body["version"]) == ("rejected", 2)
    assert (body["status_reason"], body["status_reason_category"]) == (
        "No openings this month.",
        "no_capacity",
    )
    assert body["outcome"] is None
    read = await client.get(f"/v1/referrals/{referral_id}")
    assert read.json() == body


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"status": "received"},  # not a Gravity status
        {"status": "accepted", "priority": "stat"},  # mass assignment
        {"status": "rejected", "reason": ""},
        {"status": "rejected", "reason": "x" * 501},
        {"status": "completed", "outcome": "y" * 2001},
        {"status": "accepted", "expected_version": 0},
        {"status": "on-hold", "reason_category": "whatever", "reason": "Waiting."},
    ],
    ids=[
        "no status",
        "unknown status",
        "unknown field",
        "empty reason",
        "long reason",
        "long outcome",
        "version 0",
        "unknown category",
    ],
)
async def test_malformed_changes_are_422_and_change_nothing(
    client: httpx.AsyncClient,
    referral_id: str,
    referrals: InMemoryReferrals,
    change: dict[str, Any],
) -> None:
    before = list(referrals.referrals)

    answer = await client.post(f"/v1/referrals/{referral_id}/status", json=change)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert referrals.referrals == before


async def test_a_stale_version_is_409_and_an_unknown_referral_404(
    client: httpx.AsyncClient, referral_id: str
) -> None:
    accepted = {"status": "accepted", "expected_version": 1}
    assert (await client.post(f"/v1/referrals/{referral_id}/status", json=accepted)).is_success

    stale = await client.post(f"/v1/referrals/{referral_id}/status", json=accepted)
    unknown = await client.post("/v1/referrals/no-such-referral/status", json=accepted)

    assert stale.status_code == 409
    assert stale.json()["type"].endswith("/conflict")
    assert unknown.status_code == 404


async def test_the_services_refusals_keep_their_meaning(
    client: httpx.AsyncClient, referral_id: str, referrals: InMemoryReferrals
) -> None:
    referrals.failures = [
        ServiceError("referrals", grpc.StatusCode.PERMISSION_DENIED, "the requester cannot"),
        ServiceError("referrals", grpc.StatusCode.FAILED_PRECONDITION, "completed is final"),
        ServiceError(
            "referrals",
            grpc.StatusCode.INVALID_ARGUMENT,
            "the change is not valid",
            [FieldViolation("reason", "is required for rejected")],
        ),
    ]
    path = f"/v1/referrals/{referral_id}/status"

    wrong_side = await client.post(path, json={"status": "completed", "outcome": "Seen."})
    final = await client.post(path, json={"status": "in-progress"})
    no_reason = await client.post(path, json={"status": "rejected"})

    assert wrong_side.status_code == 403
    assert final.status_code == 409
    assert final.json()["type"].endswith("/failed-precondition")
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"][0]["field"] == "reason"


async def test_changing_status_needs_the_write_scope(
    anonymous: httpx.AsyncClient, referral_id: str, mint: Mint
) -> None:
    read_only = {"Authorization": f"Bearer {mint(scopes=[REFERRALS_READ])}"}

    refused = await anonymous.post(
        f"/v1/referrals/{referral_id}/status", json={"status": "accepted"}, headers=read_only
    )

    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


async def test_a_retry_with_the_same_idempotency_key_replays_the_answer(
    client: httpx.AsyncClient, referral_id: str, referrals: InMemoryReferrals
) -> None:
    headers = {"Idempotency-Key": "status-change-1"}
    change = {"status": "accepted", "expected_version": 1}

    first = await client.post(f"/v1/referrals/{referral_id}/status", json=change, headers=headers)
    again = await client.post(f"/v1/referrals/{referral_id}/status", json=change, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert [r.version for r in referrals.referrals] == [2]
