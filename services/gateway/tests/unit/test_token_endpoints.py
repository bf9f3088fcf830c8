"""`/v1/auth/token`, `/v1/auth/revoke` and `/.well-known/jwks.json` over the in-memory
TokenService: RFC 6749 answers and errors, strict form parsing, no caching of credentials."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest

from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_platform.auth import CLIENT_ASSERTION_TYPE
from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE

from .conftest import TEST_PASSWORD
from .tokens_fake import VALID_ASSERTION, InMemoryTokens

FORM = "application/x-www-form-urlencoded"
TOKEN = "/v1/auth/token"
SIGN_IN = {"grant_type": "password", "username": "ava.test", "password": TEST_PASSWORD}


def no_store(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    no_store(response)
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["error_description"]
    return body


async def sign_in(http: httpx.AsyncClient, **changes: str) -> dict[str, Any]:
    response = await http.post(TOKEN, data=SIGN_IN | changes)
    assert response.status_code == 200, response.text
    no_store(response)
    body: dict[str, Any] = response.json()
    return body


async def test_password_grant_issues_tokens_that_work(
    anonymous: httpx.AsyncClient, tokens: InMemoryTokens
) -> None:
    issued = await sign_in(anonymous)
    assert issued["token_type"] == "Bearer"
    assert issued["expires_in"] == 300
    assert issued["refresh_token"]
    assert set(issued["scope"].split()) >= {REFERRALS_READ, REFERRALS_WRITE}
    assert tokens.client_addresses == ["127.0.0.1"]
    listed = await anonymous.get(
        "/v1/referrals", headers={"Authorization": f"Bearer {issued['access_token']}"}
    )
    assert listed.status_code == 200, listed.text


async def test_a_wrong_password_is_invalid_grant(anonymous: httpx.AsyncClient) -> None:
    oauth_error(
        await anonymous.post(TOKEN, data=SIGN_IN | {"password": "x" * 14}), 400, "invalid_grant"
    )
    unknown = await anonymous.post(TOKEN, data=SIGN_IN | {"username": "nobody.test"})
    oauth_error(unknown, 400, "invalid_grant")


async def test_scopes_can_be_narrowed_and_unknown_ones_are_invalid_scope(
    anonymous: httpx.AsyncClient,
) -> None:
    narrow = await sign_in(anonymous, scope=REFERRALS_READ)
    assert narrow["scope"] == REFERRALS_READ
    oauth_error(
        await anonymous.post(TOKEN, data=SIGN_IN | {"scope": "admin"}), 400, "invalid_scope"
    )
    malformed = await anonymous.post(TOKEN, data=SIGN_IN | {"scope": f"{REFERRALS_READ}  x"})
    oauth_error(malformed, 400, "invalid_scope")
    quoted = await anonymous.post(TOKEN, data=SIGN_IN | {"scope": 'a"b'})
    oauth_error(quoted, 400, "invalid_scope")


async def test_a_refresh_token_works_once_and_its_replay_revokes_the_family(
    anonymous: httpx.AsyncClient,
) -> None:
    first = await sign_in(anonymous)
    refreshed = await anonymous.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    replay = await anonymous.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    oauth_error(replay, 400, "invalid_grant")
    successor = await anonymous.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    oauth_error(successor, 400, "invalid_grant")


async def test_client_credentials(anonymous: httpx.AsyncClient) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": VALID_ASSERTION,
        "scope": REFERRALS_READ,
    }
    issued = await anonymous.post(TOKEN, data=form)
    assert issued.status_code == 200, issued.text
    assert "refresh_token" not in issued.json()
    bad = await anonymous.post(TOKEN, data=form | {"client_assertion": "forged"})
    oauth_error(bad, 401, "invalid_client")
    assert bad.headers["www-authenticate"].startswith('Bearer realm="peerbridge"')
    wrong_type = await anonymous.post(TOKEN, data=form | {"client_assertion_type": "password"})
    oauth_error(wrong_type, 400, "invalid_request")


@pytest.mark.parametrize(
    ("content", "content_type", "error"),
    [
        (b'{"grant_type": "password"}', "application/json", "invalid_request"),
        (b"grant_type=password&grant_type=password&username=a&password=b", FORM, "invalid_request"),
        (b"grant_type=password&username=%FF&password=b", FORM, "invalid_request"),
        ("grant_type=password&username=\u00e4va&password=b".encode(), FORM, "invalid_request"),
        (b"grant_type=password&&username=a", FORM, "invalid_request"),
        (b"grant_type", FORM, "invalid_request"),
        (b"", FORM, "invalid_request"),
        (b"username=a&password=b", FORM, "invalid_request"),
        (b"grant_type=password&username=a", FORM, "invalid_request"),
        (b"grant_type=password&username=a&password=", FORM, "invalid_request"),
        (b"grant_type=refresh_token", FORM, "invalid_request"),
        (b"grant_type=client_credentials&client_assertion_type=x", FORM, "invalid_request"),
        (b"grant_type=authorization_code&code=abc", FORM, "unsupported_grant_type"),
        (b"grant_type=implicit", FORM, "unsupported_grant_type"),
        ("&".join(f"p{n}=v" for n in range(40)).encode(), FORM, "invalid_request"),
    ],
    ids=[
        "json",
        "repeated",
        "not-utf8",
        "not-ascii",
        "empty-pair",
        "no-equals",
        "empty",
        "no-grant-type",
        "no-password",
        "empty-password",
        "no-refresh-token",
        "no-assertion",
        "code",
        "implicit",
        "too-many",
    ],
)
async def test_malformed_token_requests_are_refused(
    anonymous: httpx.AsyncClient,
    tokens: InMemoryTokens,
    content: bytes,
    content_type: str,
    error: str,
) -> None:
    response = await anonymous.post(TOKEN, content=content, headers={"content-type": content_type})
    oauth_error(response, 400, error)
    assert tokens.client_addresses == []  # identity was not asked


async def test_unknown_parameters_are_ignored(anonymous: httpx.AsyncClient) -> None:
    await sign_in(anonymous, client_id="ignored", state="x")


async def test_an_oversized_body_is_413_before_anything_parses_it(
    anonymous: httpx.AsyncClient, tokens: InMemoryTokens
) -> None:
    response = await anonymous.post(TOKEN, data=SIGN_IN | {"password": "p" * 5000})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert tokens.client_addresses == []


async def test_too_many_attempts_is_429_with_retry_after(
    anonymous: httpx.AsyncClient, tokens: InMemoryTokens
) -> None:
    tokens.failures.append(
        ServiceError("identity", grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", retry_after_s=7)
    )
    response = await anonymous.post(TOKEN, data=SIGN_IN)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"] == "application/problem+json"


async def test_identity_unavailable_is_503(
    anonymous: httpx.AsyncClient, tokens: InMemoryTokens
) -> None:
    tokens.failures.append(ServiceError("identity", grpc.StatusCode.UNAVAILABLE, "connect failed"))
    response = await anonymous.post(TOKEN, data=SIGN_IN)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "connect failed" not in response.text


async def test_the_token_endpoint_ignores_idempotency_keys(anonymous: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "same-key-for-both"}
    first = await anonymous.post(TOKEN, data=SIGN_IN, headers=headers)
    second = await anonymous.post(TOKEN, data=SIGN_IN, headers=headers)
    assert first.json()["access_token"] != second.json()["access_token"]
    assert "idempotent-replayed" not in second.headers


async def test_the_token_endpoint_only_takes_post(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get(TOKEN, params=SIGN_IN)).status_code == 405


async def test_revoke(anonymous: httpx.AsyncClient, tokens: InMemoryTokens) -> None:
    issued = await sign_in(anonymous)
    revoked = await anonymous.post(
        "/v1/auth/revoke",
        data={"token": issued["refresh_token"], "token_type_hint": "refresh_token"},
    )
    assert revoked.status_code == 200
    no_store(revoked)
    refresh = await anonymous.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
    )
    oauth_error(refresh, 400, "invalid_grant")
    # RFC 7009 §2.2: unknown tokens are answered 200 too.
    assert (await anonymous.post("/v1/auth/revoke", data={"token": "unknown"})).status_code == 200
    oauth_error(await anonymous.post("/v1/auth/revoke", data={}), 400, "invalid_request")


async def test_jwks_is_served_and_cached(
    anonymous: httpx.AsyncClient, tokens: InMemoryTokens
) -> None:
    first = await anonymous.get("/.well-known/jwks.json")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/jwk-set+json"
    assert first.headers["cache-control"] == "public, max-age=60"
    [key] = first.json()["keys"]
    assert key["kid"] == tokens.key_set.active.kid
    assert "d" not in key  # public halves only
    tokens.failures.append(ServiceError("identity", grpc.StatusCode.UNAVAILABLE, "down"))
    cached = await anonymous.get("/.well-known/jwks.json")
    assert cached.content == first.content
    assert tokens.failures  # identity was not asked again


async def test_jwks_without_identity_is_503(
    anonymous: httpx.AsyncClient, tokens: InMemoryTokens
) -> None:
    tokens.failures.append(ServiceError("identity", grpc.StatusCode.UNAVAILABLE, "down"))
    response = await anonymous.get("/.well-known/jwks.json")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_openapi_document_describes_the_token_endpoint(
    anonymous: httpx.AsyncClient,
) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    token = spec["paths"]["/v1/auth/token"]["post"]
    assert FORM in token["requestBody"]["content"]
    assert set(token["responses"]["400"]["content"]) == {"application/json"}
    assert set(token["responses"]["503"]["content"]) == {"application/problem+json"}
    assert "Idempotency-Key" not in [p["name"] for p in token.get("parameters", [])]
