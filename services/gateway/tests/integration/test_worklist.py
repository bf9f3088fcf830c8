"""The worklist through the real gateway and the real referrals service: the clinic closes
the loop on the program's referral, the program's coordinator sees it on the worklist, reads
the outcome, and marks it seen; others see nothing of it."""

from __future__ import annotations

import httpx
import pytest

from ..conftest import TEST_PROGRAM, ReferralBody
from .conftest import TokenIssuer
from .test_referral_status import RECIPIENT_CLINIC, change, clinician

pytestmark = pytest.mark.integration


async def test_the_requester_sees_the_closed_loop_until_marked_seen(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer, referral_body: ReferralBody
) -> None:
    program = token_issuer.bearer()  # a coordinator of the requesting program
    created = await anonymous.post("/v1/referrals", json=referral_body(), headers=program)
    referral_id = created.json()["referral_id"]
    clinic = clinician(token_issuer)
    for status in ("accepted", "in-progress"):
        assert (await change(anonymous, referral_id, clinic, status=status)).status_code == 200
    completed = await change(
        anonymous, referral_id, clinic, status="completed", outcome="Started treatment."
    )
    assert completed.status_code == 200, completed.text

    listed = await anonymous.get(
        "/v1/worklist", params={"organization_id": TEST_PROGRAM}, headers=program
    )
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["referral_id"] == referral_id
    assert (item["kind"], item["overdue_kind"], item["side"]) == (
        "loop_closed",
        None,
        "requester",
    )
    assert (item["status"], item["counterpart_organization_id"]) == ("completed", RECIPIENT_CLINIC)
    outcome = await anonymous.get(f"/v1/referrals/{referral_id}", headers=program)
    assert outcome.json()["outcome"] == "Started treatment."

    # The clinic's clinician has no worklist, and cannot clear the program's item.
    foreign = await anonymous.get(
        "/v1/worklist", params={"organization_id": TEST_PROGRAM}, headers=clinic
    )
    assert foreign.json() == {"items": [], "next_cursor": None}
    refused = await anonymous.post(f"/v1/worklist/{item['item_id']}/seen", json={}, headers=clinic)
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("application/problem+json")

    seen = await anonymous.post(
        f"/v1/worklist/{item['item_id']}/seen",
        json={},
        headers=program | {"Idempotency-Key": "worklist-seen-test-1"},
    )
    again = await anonymous.post(
        f"/v1/worklist/{item['item_id']}/seen",
        json={},
        headers=program | {"Idempotency-Key": "worklist-seen-test-1"},
    )
    assert (seen.status_code, again.status_code) == (204, 204)
    after = await anonymous.get(
        "/v1/worklist", params={"organization_id": TEST_PROGRAM}, headers=program
    )
    assert after.json() == {"items": [], "next_cursor": None}


async def test_bad_requests_are_problems_naming_the_field(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    program = token_issuer.bearer()

    missing = await anonymous.get("/v1/worklist", headers=program)
    bad_cursor = await anonymous.get(
        "/v1/worklist",
        params={"organization_id": TEST_PROGRAM, "cursor": "nonsense"},
        headers=program,
    )
    bad_item = await anonymous.post("/v1/worklist/not-a-uuid/seen", json={}, headers=program)

    assert missing.status_code == 422
    assert bad_cursor.status_code == 400, bad_cursor.text
    assert "cursor" in bad_cursor.text
    assert bad_item.status_code == 400, bad_item.text
    assert "item_id" in bad_item.text


async def test_the_routes_are_in_the_openapi_document(anonymous: httpx.AsyncClient) -> None:
    paths = (await anonymous.get("/openapi.json")).json()["paths"]

    assert "get" in paths["/v1/worklist"]
    assert "post" in paths["/v1/worklist/{item_id}/seen"]
