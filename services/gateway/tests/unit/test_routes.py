"""The HTTP API in process (ASGI), over in-memory fakes of the referrals client and key store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest

from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_gateway.clients.in_memory import InMemoryReferrals
from peerbridge_platform.errors import FieldViolation

from .tokens_fake import InMemoryTokens

ReferralBody = Callable[..., dict[str, Any]]
PROBLEM = "application/problem+json"
PROBLEMS = "https://peerbridge.example/problems/"


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_create_read_and_list_a_referral(
    client: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    created = await client.post("/v1/referrals", json=referral_body(member="member-ava"))
    assert created.status_code == 201, created.text
    referral = created.json()
    assert created.headers["location"] == f"/v1/referrals/{referral['referral_id']}"
    assert referral["status"] == "requested"
    assert referral["priority"] == "urgent"
    assert referral["created_at"].endswith("Z")
    fetched = await client.get(created.headers["location"])
    assert fetched.json() == referral
    listed = await client.get("/v1/referrals", params={"subject_member_id": "member-ava"})
    assert listed.json() == {"items": [referral], "next_cursor": None}


async def test_posts_without_a_key_each_create_a_referral(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, referral_body: ReferralBody
) -> None:
    body = referral_body()
    first = await client.post("/v1/referrals", json=body)
    second = await client.post("/v1/referrals", json=body)
    assert first.json()["referral_id"] != second.json()["referral_id"]
    assert "idempotent-replayed" not in second.headers
    assert len(referrals.referrals) == 2


async def test_a_retry_with_the_same_key_replays_the_first_response(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, referral_body: ReferralBody
) -> None:
    body, headers = referral_body(), {"Idempotency-Key": "b1f4d5f0-retry-1"}
    first = await client.post("/v1/referrals", json=body, headers=headers)
    # Key order and spacing do not matter: the body is compared as JSON.
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = await client.post(
        "/v1/referrals",
        content=reordered,
        headers=headers | {"content-type": "application/json"},
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert referrals.create_calls == 1


async def test_the_same_key_with_another_body_is_a_409(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, referral_body: ReferralBody
) -> None:
    headers = {"Idempotency-Key": "reused-key"}
    await client.post("/v1/referrals", json=referral_body(), headers=headers)
    response = await client.post("/v1/referrals", json=referral_body(), headers=headers)
    assert problem_of(response, 409)["type"] == PROBLEMS + "idempotency-key-reused"
    assert len(referrals.referrals) == 1


async def test_concurrent_duplicates_create_one_referral(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, referral_body: ReferralBody
) -> None:
    referrals.gate = asyncio.Event()
    body, headers = referral_body(), {"Idempotency-Key": "concurrent-key"}
    posts = [
        asyncio.create_task(client.post("/v1/referrals", json=body, headers=headers))
        for _ in range(20)
    ]
    async with asyncio.timeout(5):
        while referrals.create_calls == 0:
            await asyncio.sleep(0.005)
    referrals.gate.set()
    responses = await asyncio.gather(*posts)
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["referral_id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
    assert len(referrals.referrals) == 1
    assert referrals.create_calls == 1


BAD_INPUTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("unknown field", {"json_changes": {"nickname": "Ava"}}, 422, "validation-error"),
    ("invalid enum", {"json_changes": {"priority": "whenever"}}, 422, "validation-error"),
    ("missing field", {"drop": "reason"}, 422, "validation-error"),
    ("wrong type", {"json_changes": {"requester": "program-1"}}, 422, "validation-error"),
    ("not an object", {"content": b"[1, 2]"}, 422, "validation-error"),
    ("malformed JSON", {"content": b'{"subject_member_id": '}, 400, "malformed-json"),
    (
        "oversized body",
        {"content": b'{"reason": "' + b"x" * 5000 + b'"}'},
        413,
        "content-too-large",
    ),
    ("text/plain", {"content_type": "text/plain"}, 415, "unsupported-media-type"),
    ("form", {"content_type": "application/x-www-form-urlencoded"}, 415, "unsupported-media-type"),
    ("no content type", {"content_type": None}, 415, "unsupported-media-type"),
    ("key with a space", {"key": "two words"}, 400, "invalid-idempotency-key"),
    ("key too long", {"key": "k" * 256}, 400, "invalid-idempotency-key"),
    ("empty key", {"key": ""}, 400, "invalid-idempotency-key"),
]


@pytest.mark.parametrize(
    ("kind", "how", "status", "problem_type"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
async def test_bad_input_is_a_problem_and_writes_nothing(
    client: httpx.AsyncClient,
    referrals: InMemoryReferrals,
    referral_body: ReferralBody,
    kind: str,
    how: dict[str, Any],
    status: int,
    problem_type: str,
) -> None:
    body = referral_body(**how.get("json_changes", {}))
    body.pop(how.get("drop", ""), None)
    content = how.get("content", json.dumps(body).encode())
    headers = {"Idempotency-Key": how.get("key", f"key-{kind.replace(' ', '-')}")}
    content_type = how.get("content_type", "application/json")
    if content_type is not None:
        headers["content-type"] = content_type
    response = await client.post("/v1/referrals", content=content, headers=headers)
    problem = problem_of(response, status)
    assert problem["type"] == PROBLEMS + problem_type
    if status == 422:
        assert problem["errors"]
    assert referrals.create_calls == 0
    assert referrals.referrals == []


async def test_validation_errors_name_the_fields(
    client: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    body = referral_body(priority="whenever", nickname="Ava")
    del body["requester"]["kind"]
    response = await client.post("/v1/referrals", json=body)
    fields = {e["field"] for e in problem_of(response, 422)["errors"]}
    assert fields == {"priority", "nickname", "requester.kind"}


async def test_the_services_field_violations_come_through_and_are_replayed(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, referral_body: ReferralBody
) -> None:
    referrals.failures.append(
        ServiceError(
            "referrals",
            grpc.StatusCode.INVALID_ARGUMENT,
            "the referral is not valid",
            [FieldViolation("recipient.organization_id", "must differ from requester")],
        )
    )
    body, headers = referral_body(), {"Idempotency-Key": "invalid-once"}
    response = await client.post("/v1/referrals", json=body, headers=headers)
    problem = problem_of(response, 400)
    assert problem["type"] == PROBLEMS + "invalid-argument"
    assert problem["errors"] == [
        {"field": "recipient.organization_id", "detail": "must differ from requester"}
    ]
    replay = await client.post("/v1/referrals", json=body, headers=headers)
    assert replay.status_code == 400
    assert replay.headers["idempotent-replayed"] == "true"
    assert referrals.create_calls == 1


async def test_an_unavailable_service_is_a_503_and_the_key_can_be_retried(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, referral_body: ReferralBody
) -> None:
    referrals.failures.append(
        ServiceError("referrals", grpc.StatusCode.UNAVAILABLE, "connection refused")
    )
    body, headers = referral_body(), {"Idempotency-Key": "retry-after-outage"}
    response = await client.post("/v1/referrals", json=body, headers=headers)
    problem = problem_of(response, 503)
    assert "connection refused" not in response.text
    assert problem["type"] == PROBLEMS + "service-unavailable"
    assert response.headers["retry-after"] == "1"
    retried = await client.post("/v1/referrals", json=body, headers=headers)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert len(referrals.referrals) == 1


async def test_an_unexpected_error_is_a_bare_500_and_releases_the_key(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, referral_body: ReferralBody
) -> None:
    referrals.failures.append(RuntimeError("secret connection string in a traceback"))
    body, headers = referral_body(), {"Idempotency-Key": "bug-then-fix"}
    response = await client.post("/v1/referrals", json=body, headers=headers)
    problem = problem_of(response, 500)
    assert problem["type"] == PROBLEMS + "internal-error"
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert (await client.post("/v1/referrals", json=body, headers=headers)).status_code == 201


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    assert problem_of(await client.get("/v1/nothing-here"), 404)["type"] == "about:blank"
    not_allowed = await client.delete("/v1/referrals")
    problem_of(not_allowed, 405)
    assert not_allowed.headers["allow"] == "POST"


async def test_an_unknown_referral_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/referrals/00000000-0000-4000-8000-000000009999")
    assert problem_of(response, 404)["type"] == PROBLEMS + "not-found"


async def test_lists_are_paged_with_cursors(
    client: httpx.AsyncClient, referral_body: ReferralBody
) -> None:
    created = [
        (await client.post("/v1/referrals", json=referral_body(member="member-cleo"))).json()
        for _ in range(5)
    ]
    await client.post("/v1/referrals", json=referral_body(member="member-dan"))
    seen: list[str] = []
    params: dict[str, Any] = {"subject_member_id": "member-cleo", "limit": 2}
    pages = 0
    while True:
        page = (await client.get("/v1/referrals", params=params)).json()
        seen += [item["referral_id"] for item in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert pages == 3
    assert seen == [r["referral_id"] for r in reversed(created)]


async def test_bad_list_parameters_are_problems(client: httpx.AsyncClient) -> None:
    too_big = problem_of(await client.get("/v1/referrals", params={"limit": 101}), 422)
    assert [e["field"] for e in too_big["errors"]] == ["limit"]
    unknown = problem_of(await client.get("/v1/referrals", params={"page": 2}), 422)
    assert [e["field"] for e in unknown["errors"]] == ["page"]
    bad_status = problem_of(await client.get("/v1/referrals", params={"status": "open"}), 422)
    assert [e["field"] for e in bad_status["errors"]] == ["status"]
    bad_cursor = problem_of(await client.get("/v1/referrals", params={"cursor": "nope"}), 400)
    assert [e["field"] for e in bad_cursor["errors"]] == ["cursor"]


async def test_health_and_readiness(
    anonymous: httpx.AsyncClient, referrals: InMemoryReferrals, tokens: InMemoryTokens
) -> None:
    # Open: no token needed.
    assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
    ready = await anonymous.get("/readyz")
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "referrals": "ok", "identity": "ok"},
    }
    referrals.serving = False
    tokens.serving = False
    problem = problem_of(await anonymous.get("/readyz"), 503)
    assert problem["checks"] == {
        "database": "ok",
        "referrals": "NOT_SERVING",
        "identity": "NOT_SERVING",
    }
    assert "referrals" in problem["detail"]
    assert "identity" in problem["detail"]


async def test_request_ids_are_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "req-abc.123"})
    assert given.headers["x-request-id"] == "req-abc.123"
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith tab"})
    assert unsafe.headers["x-request-id"] != "bad id\twith tab"


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    create = spec["paths"]["/v1/referrals"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert set(create["responses"]["422"]["content"]) == {PROBLEM}
    assert "201" in create["responses"]
    assert spec["components"]["schemas"]["ReferralIn"]["additionalProperties"] is False
    priority = spec["components"]["schemas"]["Priority"]["enum"]
    assert priority == ["routine", "urgent", "asap", "stat"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
