"""Bearer tokens on every /v1 route: refused tokens (RFC 8725 cases), scopes per route,
the token forwarded to the services, and idempotency keys bound to the verified caller."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
import structlog

from peerbridge_gateway.authentication import RateLimitedLog
from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_gateway.clients.in_memory import InMemoryReferrals
from peerbridge_gateway.problems import challenge
from peerbridge_gateway.refusal_audit import (
    AUTHENTICATE,
    AUTHORIZE,
    VALIDATE,
    AuditorRefusalAudit,
    MemoryRefusalAudit,
    Refusal,
)
from peerbridge_platform.auth import KeySet, SigningKey
from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE

from ..conftest import PROBLEM, REALM, b64, refused, unb64, with_algorithm
from .conftest import Mint

ReferralBody = Callable[..., dict[str, Any]]
JSON = {"Content-Type": "application/json"}


async def get_list(http: httpx.AsyncClient, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await http.get("/v1/referrals", headers=headers)


async def test_a_valid_token_is_accepted(anonymous: httpx.AsyncClient, mint: Mint) -> None:
    assert (await get_list(anonymous, mint())).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic YXZhOnNlY3JldA=="}, {"Authorization": "Bearer"}],
    ids=["none", "basic", "empty-bearer"],
)
async def test_no_bearer_token_is_401_without_an_error_code(
    anonymous: httpx.AsyncClient, referral_body: ReferralBody, headers: dict[str, str]
) -> None:
    refused(await anonymous.get("/v1/referrals", headers=headers), token_sent=False)
    refused(await anonymous.get("/v1/referrals/some-id", headers=headers), token_sent=False)
    created = await anonymous.post("/v1/referrals", json=referral_body(), headers=headers)
    refused(created, token_sent=False)


async def test_an_expired_token_is_refused(anonymous: httpx.AsyncClient, mint: Mint) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    refused(await get_list(anonymous, mint(now=an_hour_ago)))


async def test_a_tampered_token_is_refused(anonymous: httpx.AsyncClient, mint: Mint) -> None:
    header, payload, signature = mint(scopes=[REFERRALS_READ]).split(".")
    claims = unb64(payload) | {"scope": f"{REFERRALS_READ} {REFERRALS_WRITE} admin"}
    refused(await get_list(anonymous, f"{header}.{b64(claims)}.{signature}"))


async def test_a_token_signed_by_another_key_is_refused(
    anonymous: httpx.AsyncClient, mint: Mint, key_set: KeySet
) -> None:
    stranger = SigningKey.generate()
    # Unknown kid.
    refused(await get_list(anonymous, mint(key=stranger)))
    # Our kid, the stranger's signature over the very same claims.
    same = {"now": datetime.now(UTC), "token_id": "jti-forged-1"}
    ours, theirs = mint(**same), mint(key=stranger, **same)
    assert ours.split(".")[1] == theirs.split(".")[1]
    forged = ".".join([ours.split(".")[0], ours.split(".")[1], theirs.split(".")[2]])
    refused(await get_list(anonymous, forged))


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256"])
async def test_a_token_with_another_algorithm_is_refused(
    anonymous: httpx.AsyncClient, mint: Mint, key_set: KeySet, alg: str
) -> None:
    refused(await get_list(anonymous, with_algorithm(mint(), alg)))
    refused(await get_list(anonymous, with_algorithm(mint(), alg, "c2lnbmF0dXJl")))


async def test_wrong_audience_issuer_or_type_is_refused(
    anonymous: httpx.AsyncClient, mint: Mint, key_set: KeySet
) -> None:
    refused(await get_list(anonymous, mint(audience="another-api")))
    refused(await get_list(anonymous, mint(issuer="https://issuer.invalid")))
    # A JWT that is not typed as an access token (an ID token, an assertion).
    not_access = key_set.active.sign(unb64(mint().split(".")[1]), typ="JWT")
    refused(await get_list(anonymous, not_access))
    refused(await get_list(anonymous, "not-a-jwt"))


async def test_scopes_are_checked_per_route(
    anonymous: httpx.AsyncClient, mint: Mint, referral_body: ReferralBody
) -> None:
    read_only = {"Authorization": f"Bearer {mint(scopes=[REFERRALS_READ])}"}
    write_only = {"Authorization": f"Bearer {mint(scopes=[REFERRALS_WRITE])}"}
    created = await anonymous.post("/v1/referrals", json=referral_body(), headers=read_only)
    assert created.status_code == 403, created.text
    assert created.headers["content-type"] == PROBLEM
    assert created.headers["www-authenticate"] == (
        f'{REALM}, error="insufficient_scope", scope="{REFERRALS_WRITE}"'
    )
    assert created.json()["type"].endswith("/insufficient-scope")
    listed = await anonymous.get("/v1/referrals", headers=write_only)
    assert listed.status_code == 403
    assert f'scope="{REFERRALS_READ}"' in listed.headers["www-authenticate"]
    one = await anonymous.get("/v1/referrals/any-id", headers=write_only)
    assert one.status_code == 403
    assert (await anonymous.get("/v1/referrals", headers=read_only)).status_code == 200


async def test_a_token_the_service_refuses_is_a_401_with_a_challenge(
    client: httpx.AsyncClient, referrals: InMemoryReferrals
) -> None:
    # The service verifies the forwarded token again; it may still refuse it (expired on the way).
    referrals.failures.append(
        ServiceError("referrals", grpc.StatusCode.UNAUTHENTICATED, "token expired")
    )
    refused(await client.get("/v1/referrals"))


async def test_the_token_is_forwarded_to_the_service(
    anonymous: httpx.AsyncClient,
    mint: Mint,
    referrals: InMemoryReferrals,
    referral_body: ReferralBody,
) -> None:
    seen: list[Any] = []
    original = referrals.create_referral

    async def spy(new: Any, *, caller: Any, idempotency_key: str | None) -> Any:
        seen.append(caller)
        return await original(new, caller=caller, idempotency_key=idempotency_key)

    referrals.create_referral = spy  # type: ignore[method-assign]
    token = mint(subject="person-test-bo")
    created = await anonymous.post(
        "/v1/referrals", json=referral_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert created.status_code == 201, created.text
    assert seen[0].bearer_token == token
    assert seen[0].principal == "person:person-test-bo"
    assert token not in repr(seen[0])


async def test_one_caller_never_replays_anothers_response(
    anonymous: httpx.AsyncClient,
    mint: Mint,
    referrals: InMemoryReferrals,
    referral_body: ReferralBody,
) -> None:
    body, key = referral_body(), "shared-key-1"
    ava = {"Authorization": f"Bearer {mint(subject='person-test-ava')}", "Idempotency-Key": key}
    bo = {"Authorization": f"Bearer {mint(subject='person-test-bo')}", "Idempotency-Key": key}
    first = await anonymous.post("/v1/referrals", json=body, headers=ava)
    other = await anonymous.post("/v1/referrals", json=body, headers=bo)
    again = await anonymous.post("/v1/referrals", json=body, headers=ava)
    assert (first.status_code, other.status_code, again.status_code) == (201, 201, 201)
    assert "idempotent-replayed" not in other.headers
    assert other.json()["referral_id"] != first.json()["referral_id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert referrals.create_calls == 2


async def test_open_routes_need_no_token(anonymous: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/openapi.json", "/docs", "/.well-known/jwks.json"):
        assert (await anonymous.get(path)).status_code == 200, path


async def test_the_openapi_document_declares_bearer_auth_and_scopes(
    anonymous: httpx.AsyncClient,
) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    paths = spec["paths"]
    assert paths["/v1/referrals"]["post"]["security"] == [{"bearer": [REFERRALS_WRITE]}]
    assert paths["/v1/referrals"]["get"]["security"] == [{"bearer": [REFERRALS_READ]}]
    assert paths["/v1/referrals/{referral_id}"]["get"]["security"] == [{"bearer": [REFERRALS_READ]}]
    # Every /v1 operation but the token endpoints needs a token and names its scopes.
    for path, operations in paths.items():
        for method, operation in operations.items():
            if path.startswith("/v1/auth/") or not path.startswith("/v1/"):
                assert "security" not in operation, (method, path)
            else:
                [requirement] = operation["security"]
                assert requirement["bearer"], (method, path)


async def test_refusals_are_logged_with_a_reason_but_never_the_token(
    anonymous: httpx.AsyncClient, mint: Mint
) -> None:
    token = mint(audience="another-api")
    with structlog.testing.capture_logs() as logs:
        refused(await get_list(anonymous, token))
    failures = [e for e in logs if e["event"] == "authentication failed"]
    assert failures[0]["reason"] == "token has the wrong audience"
    assert token not in repr(logs)
    assert token.split(".")[2] not in repr(logs)


def test_failed_authentications_are_rate_limited_in_the_log() -> None:
    now = [1000.0]
    failure_log = RateLimitedLog(per_minute=3, clock=lambda: now[0])
    with structlog.testing.capture_logs() as logs:
        written = [
            failure_log.refused("token expired", client_address="10.0.0.1") for _ in range(5)
        ]
        assert written == [True, True, True, False, False]
        # Another reason has its own budget.
        assert failure_log.refused("token signature is invalid", client_address=None)
        now[0] += 61
        assert failure_log.refused("token expired", client_address="10.0.0.1")
    suppressed = [e for e in logs if e["event"] == "authentication failures not logged"]
    assert suppressed == [
        {
            "event": "authentication failures not logged",
            "reason": "token expired",
            "count": 2,
            "log_level": "warning",
        }
    ]
    assert len([e for e in logs if e["event"] == "authentication failed"]) == 5


def test_challenges() -> None:
    assert challenge() == REALM
    assert challenge(error="invalid_token") == f'{REALM}, error="invalid_token"'
    assert challenge(error="insufficient_scope", scopes=("a.b", "c.d")) == (
        f'{REALM}, error="insufficient_scope", scope="a.b c.d"'
    )


async def test_every_refusal_is_audited_with_the_route_and_never_the_ids(
    anonymous: httpx.AsyncClient, mint: Mint, refusals: MemoryRefusalAudit
) -> None:
    await anonymous.get("/v1/referrals/member-secret-id")
    await anonymous.get("/v1/referrals", headers={"Authorization": "Bearer not-a-jwt"})
    write_only = mint(scopes=[REFERRALS_WRITE], subject="person-test-scoped")
    await anonymous.get("/v1/referrals", headers={"Authorization": f"Bearer {write_only}"})
    await get_list(anonymous, mint())  # allowed: nothing to audit here

    assert [(r.action, r.route) for r in refusals.refusals] == [
        (AUTHENTICATE, "GET /v1/referrals/{referral_id}"),
        (AUTHENTICATE, "GET /v1/referrals"),
        (AUTHORIZE, "GET /v1/referrals"),
    ]
    assert refusals.refusals[0].reason == "no bearer token"
    assert refusals.refusals[2].reason == f"token lacks scope {REFERRALS_READ}"
    assert refusals.refusals[2].principal is not None
    assert refusals.refusals[2].principal.subject == "person-test-scoped"
    assert all(r.principal is None for r in refusals.refusals[:2])
    assert all("member-secret-id" not in repr(r) for r in refusals.refusals)


class RecordingAuditor:
    """Stands in for the platform Auditor: what AuditorRefusalAudit asks it to record."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def record_denied(self, **entry: Any) -> None:
        self.records.append(entry)


async def test_a_flood_of_refusals_is_audited_one_by_one_then_as_a_count() -> None:
    now = [0.0]
    auditor = RecordingAuditor()
    audit = AuditorRefusalAudit(auditor, per_minute=3, clock=lambda: now[0])  # type: ignore[arg-type]
    refusal = Refusal(AUTHENTICATE, "token has expired", "GET /v1/referrals", "198.51.100.4")

    for _ in range(10):
        await audit.refused(refusal)
    now[0] = 61.0
    await audit.refused(refusal)

    reasons = [record["reason"] for record in auditor.records]
    assert reasons == ["token has expired"] * 3 + [
        "7 more refusals: token has expired",
        "token has expired",
    ]
    assert {record["resource_id"] for record in auditor.records} == {"GET /v1/referrals"}


async def test_bad_input_is_audited_by_route_never_by_content(
    client: httpx.AsyncClient, refusals: MemoryRefusalAudit, referral_body: ReferralBody
) -> None:
    escalation = referral_body() | {"status": "completed"}  # mass assignment
    await client.post("/v1/referrals", json=escalation)
    await client.post("/v1/referrals/abc-123/status", content=b"{", headers=JSON)
    await client.post("/v1/referrals", content=b"x", headers={"Content-Type": "text/plain"})
    await client.post("/v1/auth/token", data={"grant_type": "nonsense"})  # identity's to audit

    assert [(r.action, r.route, r.reason) for r in refusals.refusals] == [
        (VALIDATE, "POST /v1/referrals", "bad input (422)"),
        (VALIDATE, "POST /v1/referrals/{referral_id}/status", "bad input (400)"),
        (VALIDATE, "POST /v1/referrals", "bad input (415)"),
    ]
    assert all(r.principal is not None for r in refusals.refusals[:1])
    assert "abc-123" not in repr(refusals.refusals)
