"""The gateway over real HTTP (uvicorn on a loopback port), calling the real referrals service
over gRPC, with its idempotency keys in a real PostgreSQL database. No fakes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest

pytestmark = pytest.mark.integration

ReferralBody = Callable[..., dict[str, Any]]
PROBLEM = "application/problem+json"
PROBLEMS = "https://peerbridge.example/problems/"


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["instance"]) == (status, response.request.url.path)
    assert body["type"].startswith(PROBLEMS) or body["type"] == "about:blank"
    assert body["title"]
    return body


def new_key() -> str:
    return str(uuid.uuid4())


async def referrals_of(http: httpx.AsyncClient, member: str) -> list[dict[str, Any]]:
    response = await http.get("/v1/referrals", params={"subject_member_id": member})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def stored_keys(database_url: str, key: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1", key
        )
        return count
    finally:
        await connection.close()


async def test_create_read_and_list(http: httpx.AsyncClient, referral_body: ReferralBody) -> None:
    body = referral_body()
    created = await http.post("/v1/referrals", json=body, headers={"Idempotency-Key": new_key()})
    assert created.status_code == 201, created.text
    referral = created.json()
    assert created.headers["location"] == f"/v1/referrals/{referral['referral_id']}"
    assert referral["status"] == "requested"
    assert referral["version"] == 1
    assert {k: referral[k] for k in ("direction", "category", "priority", "reason")} == {
        k: body[k] for k in ("direction", "category", "priority", "reason")
    }
    assert referral["requester"] == body["requester"] | {"practitioner_id": None}
    fetched = await http.get(created.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == referral
    assert await referrals_of(http, body["subject_member_id"]) == [referral]


async def test_a_post_without_a_key_works(
    http: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    body = referral_body()
    first = await http.post("/v1/referrals", json=body)
    second = await http.post("/v1/referrals", json=body)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["referral_id"] != second.json()["referral_id"]


async def test_pages_follow_cursors_newest_first(
    http: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    member = f"member-{uuid.uuid4().hex[:10]}"
    created = []
    for _ in range(5):
        response = await http.post("/v1/referrals", json=referral_body(member=member))
        created.append(response.json()["referral_id"])
    seen: list[str] = []
    params: dict[str, Any] = {"subject_member_id": member, "limit": 2, "status": "requested"}
    for _ in range(10):
        page = (await http.get("/v1/referrals", params=params)).json()
        seen += [item["referral_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == list(reversed(created))
    # A cursor belongs to its filters.
    params["subject_member_id"] = "member-someone-else"
    if "cursor" in params:
        problem = problem_of(await http.get("/v1/referrals", params=params), 400)
        assert [e["field"] for e in problem["errors"]] == ["cursor"]


async def oversized_stream() -> AsyncIterator[bytes]:
    yield b'{"reason": "'
    for _ in range(20):
        yield b"x" * 4096
    yield b'"}'


BAD_INPUTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("unknown field", {"json_changes": {"nickname": "Ava"}}, 422, "validation-error"),
    ("invalid enum", {"json_changes": {"priority": "whenever"}}, 422, "validation-error"),
    ("invalid nested enum", {"party_kind": "hospital"}, 422, "validation-error"),
    ("missing field", {"drop": "recipient"}, 422, "validation-error"),
    ("malformed JSON", {"content": b'{"subject_member_id": "m", '}, 400, "malformed-json"),
    ("oversized body", {"content": b'{"r": "' + b"x" * 70_000 + b'"}'}, 413, "content-too-large"),
    ("oversized stream", {"stream": True}, 413, "content-too-large"),
    ("wrong content type", {"content_type": "text/plain"}, 415, "unsupported-media-type"),
    ("no content type", {"content_type": None}, 415, "unsupported-media-type"),
    ("bad Idempotency-Key", {"key": "not a valid key"}, 400, "invalid-idempotency-key"),
    ("service-side rule", {"same_org": True}, 400, "invalid-argument"),
]


@pytest.mark.parametrize(
    ("kind", "how", "status", "problem_type"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
async def test_bad_input_is_refused_with_a_problem_and_writes_nothing(
    http: httpx.AsyncClient,
    gateway: Any,
    referral_body: ReferralBody,
    kind: str,
    how: dict[str, Any],
    status: int,
    problem_type: str,
) -> None:
    body = referral_body(**how.get("json_changes", {}))
    member = body["subject_member_id"]
    body.pop(how.get("drop", ""), None)
    if "party_kind" in how:
        body["recipient"]["kind"] = how["party_kind"]
    if how.get("same_org"):
        body["recipient"]["organization_id"] = body["requester"]["organization_id"]
    key = how.get("key", new_key())
    headers = {"Idempotency-Key": key}
    if (content_type := how.get("content_type", "application/json")) is not None:
        headers["content-type"] = content_type
    content: Any = oversized_stream() if how.get("stream") else how.get("content")
    if content is None:
        content = json.dumps(body).encode()

    response = await http.post("/v1/referrals", content=content, headers=headers)

    problem = problem_of(response, status)
    assert problem["type"] == PROBLEMS + problem_type
    if status in (422, 400) and problem_type in ("validation-error", "invalid-argument"):
        assert problem["errors"], problem
    assert await referrals_of(http, member) == []
    if problem_type == "invalid-argument":
        # The service refused it after the key was claimed: the answer is kept for a replay.
        assert await stored_keys(gateway.database_url, key) == 1
    else:
        assert await stored_keys(gateway.database_url, key) == 0


async def test_the_services_field_violations_come_through(
    http: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    body = referral_body()
    body["recipient"]["organization_id"] = body["requester"]["organization_id"]
    body["reason"] = "   "
    response = await http.post("/v1/referrals", json=body, headers={"Idempotency-Key": new_key()})
    fields = {e["field"] for e in problem_of(response, 400)["errors"]}
    assert fields == {"recipient.organization_id", "reason"}


async def test_a_retry_replays_the_first_response(
    http: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    body, headers = referral_body(), {"Idempotency-Key": new_key()}
    first = await http.post("/v1/referrals", json=body, headers=headers)
    again = await http.post("/v1/referrals", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.json() == first.json()
    assert len(await referrals_of(http, body["subject_member_id"])) == 1


async def test_the_same_key_with_another_body_is_a_409(
    http: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    member = f"member-{uuid.uuid4().hex[:10]}"
    headers = {"Idempotency-Key": new_key()}
    first = await http.post("/v1/referrals", json=referral_body(member=member), headers=headers)
    changed = referral_body(member=member, priority="routine")
    response = await http.post("/v1/referrals", json=changed, headers=headers)
    assert problem_of(response, 409)["type"] == PROBLEMS + "idempotency-key-reused"
    assert [r["referral_id"] for r in await referrals_of(http, member)] == [
        first.json()["referral_id"]
    ]


async def test_twenty_concurrent_duplicates_create_exactly_one_referral(
    http: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    body, headers = referral_body(), {"Idempotency-Key": new_key()}
    responses = await asyncio.gather(
        *(http.post("/v1/referrals", json=body, headers=headers) for _ in range(20))
    )
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    assert len({r.json()["referral_id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
    assert len(await referrals_of(http, body["subject_member_id"])) == 1


async def test_keys_the_service_cannot_take_verbatim_still_deduplicate(
    http: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    body, headers = referral_body(), {"Idempotency-Key": "order#42/attempt?" + "k" * 200}
    first = await http.post("/v1/referrals", json=body, headers=headers)
    again = await http.post("/v1/referrals", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert again.json()["referral_id"] == first.json()["referral_id"]


async def test_unknown_things_are_404_problems(http: httpx.AsyncClient) -> None:
    missing = await http.get(f"/v1/referrals/{uuid.uuid4()}")
    assert problem_of(missing, 404)["type"] == PROBLEMS + "not-found"
    not_an_id = await http.get("/v1/referrals/not-a-uuid")
    assert not_an_id.status_code in (400, 404)
    problem_of(not_an_id, not_an_id.status_code)
    assert problem_of(await http.get("/v1/no-such-thing"), 404)["type"] == "about:blank"
    assert problem_of(await http.put("/v1/referrals", json={}), 405)


async def test_openapi_docs_and_readiness_are_served(http: httpx.AsyncClient) -> None:
    spec = await http.get("/openapi.json")
    assert spec.status_code == 200
    assert "/v1/referrals/{referral_id}" in spec.json()["paths"]
    docs = await http.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    # Identity here is the test issuer's TokenService, a real gRPC server with health.
    assert ready.json()["checks"] == {"database": "ok", "referrals": "ok", "identity": "ok"}


async def test_requests_are_counted_by_route_template_never_by_id(
    http: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    route = {"method": "GET", "route": "/v1/referrals/{referral_id}", "status": "200"}

    def counted() -> float:
        return REGISTRY.get_sample_value("http_server_requests_total", route) or 0.0

    created = await http.post("/v1/referrals", json=referral_body())
    before = counted()
    for _ in range(2):
        assert (await http.get(created.headers["location"])).status_code == 200
    assert counted() == before + 2
    referral_id = created.json()["referral_id"]
    assert referral_id not in generate_latest(REGISTRY).decode()
