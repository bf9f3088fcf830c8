"""`/v1/disclosures` in process over the in-memory disclosures port: translation to JSON and
from protobuf, paging, what the gateway refuses itself (422, scopes), problems from the
service. Who reads which member's log is the referrals service's rule, tested there and
through the gateway in tests/integration/test_disclosures.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import httpx

from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge_gateway.clients.disclosures import Disclosure
from peerbridge_gateway.clients.disclosures_grpc import disclosure_from_proto
from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_gateway.clients.in_memory_disclosures import InMemoryDisclosures
from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE

from .conftest import Mint

MEMBER = "member-test-ava"
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def a_disclosure(n: int) -> Disclosure:
    return Disclosure(
        disclosure_id=str(n),
        referral_id=f"00000000-0000-4000-8000-{n:012d}",
        recipient_organization_id="clinic-northside-test",
        consent_id="00000000-0000-4000-9000-000000000001",
        purpose="TREAT",
        category="referral_details",
        description="Referral details, with the member's consent",
        disclosed_at=AT + timedelta(minutes=n),
    )


async def test_the_list_is_json_newest_first_and_pages_with_the_services_cursor(
    client: httpx.AsyncClient, disclosures: InMemoryDisclosures
) -> None:
    disclosures.logs[MEMBER] = [a_disclosure(n) for n in (1, 2, 3)]

    first = await client.get("/v1/disclosures", params={"subject_member_id": MEMBER, "limit": 2})
    second = await client.get(
        "/v1/disclosures",
        params={"subject_member_id": MEMBER, "limit": 2, "cursor": first.json()["next_cursor"]},
    )

    assert first.status_code == 200, first.text
    assert [d["disclosure_id"] for d in first.json()["items"]] == ["3", "2"]
    assert first.json()["items"][0] == {
        "disclosure_id": "3",
        "referral_id": "00000000-0000-4000-8000-000000000003",
        "recipient_organization_id": "clinic-northside-test",
        "consent_id": "00000000-0000-4000-9000-000000000001",
        "purpose": "TREAT",
        "category": "referral_details",
        "description": "Referral details, with the member's consent",
        "disclosed_at": "2026-03-01T09:03:00Z",
    }
    assert [d["disclosure_id"] for d in second.json()["items"]] == ["1"]
    assert second.json()["next_cursor"] is None


async def test_bad_input_is_refused_with_422(client: httpx.AsyncClient) -> None:
    no_member = await client.get("/v1/disclosures")
    unknown = await client.get(
        "/v1/disclosures", params={"subject_member_id": MEMBER, "recipient": "x"}
    )
    too_many = await client.get("/v1/disclosures", params={"subject_member_id": MEMBER, "limit": 0})

    assert [r.status_code for r in (no_member, unknown, too_many)] == [422] * 3


async def test_the_services_answers_become_problems(
    client: httpx.AsyncClient, disclosures: InMemoryDisclosures
) -> None:
    disclosures.failures = [
        ServiceError("referrals", grpc.StatusCode.INVALID_ARGUMENT, "page_token is not valid"),
        ServiceError("referrals", grpc.StatusCode.UNAVAILABLE, "down"),
    ]

    invalid = await client.get("/v1/disclosures", params={"subject_member_id": MEMBER})
    down = await client.get("/v1/disclosures", params={"subject_member_id": MEMBER})

    assert (invalid.status_code, down.status_code) == (400, 503)


async def test_reading_needs_referrals_read(anonymous: httpx.AsyncClient, mint: Mint) -> None:
    writer = {"Authorization": f"Bearer {mint(scopes=[REFERRALS_WRITE])}"}
    reader = {"Authorization": f"Bearer {mint(scopes=[REFERRALS_READ])}"}
    params = {"subject_member_id": MEMBER}

    refused = await anonymous.get("/v1/disclosures", params=params, headers=writer)
    allowed = await anonymous.get("/v1/disclosures", params=params, headers=reader)
    nobody = await anonymous.get("/v1/disclosures", params=params)

    assert (refused.status_code, allowed.status_code, nobody.status_code) == (403, 200, 401)
    assert refused.json()["type"].endswith("/insufficient-scope")


def test_a_disclosure_from_protobuf() -> None:
    message = service_pb2.Disclosure(
        disclosure_id="7",
        referral_id="00000000-0000-4000-8000-000000000007",
        recipient_organization_id="clinic-northside-test",
        consent_id="00000000-0000-4000-9000-000000000001",
        purpose="TREAT",
        category="referral_details",
        description="Referral details, with the member's consent",
    )
    message.disclosed_at.FromDatetime(AT + timedelta(minutes=7))

    assert disclosure_from_proto(message) == a_disclosure(7)
