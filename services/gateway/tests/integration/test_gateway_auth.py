"""Bearer tokens through the real gateway (uvicorn on a loopback port) and the real referrals
service (a process), both verifying tokens against the issuer's keys fetched over gRPC.

The gateway refuses bad tokens and missing scopes itself; which referrals a caller may
see is the referrals service's decision, made on the token the gateway forwards."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import structlog
from confluent_kafka import Consumer

from peerbridge_platform.auth import Role, SigningKey
from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE
from peerbridge_platform.kafka import AUDIT_TOPIC

from ..conftest import (
    OTHER_CLINIC,
    PROBLEM,
    REALM,
    TEST_PROGRAM,
    ReferralBody,
    refused,
    with_algorithm,
)
from .conftest import RunningGateway, TokenIssuer

pytestmark = pytest.mark.integration

# The synthetic referrals' recipient (tests/conftest.py).
RECIPIENT_CLINIC = "clinic-test-northside"


def clinician_of(issuer: TokenIssuer, organization: str) -> dict[str, str]:
    return issuer.bearer(
        subject=f"person-test-clinician-{organization}",
        roles=[Role.CLINICIAN],
        organization_id=organization,
        scopes=[REFERRALS_READ],
    )


async def test_a_valid_token_reaches_the_service(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer, referral_body: ReferralBody
) -> None:
    created = await anonymous.post(
        "/v1/referrals", json=referral_body(), headers=token_issuer.bearer()
    )
    assert created.status_code == 201, created.text
    listed = await anonymous.get("/v1/referrals", headers=token_issuer.bearer())
    assert listed.status_code == 200, listed.text


async def test_bad_tokens_are_401_problems_and_change_nothing(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer, referral_body: ReferralBody
) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    bad = {
        "expired": token_issuer.mint(now=an_hour_ago),
        "wrong audience": token_issuer.mint(audience="another-api"),
        "wrong issuer": token_issuer.mint(issuer="https://issuer.invalid"),
        "alg none": with_algorithm(token_issuer.mint(), "none"),
        "unknown key": token_issuer.mint(key=SigningKey.generate()),
        "not a jwt": "not-a-jwt",
    }
    body = referral_body()
    for reason, token in bad.items():
        headers = {"Authorization": f"Bearer {token}"}
        refused(await anonymous.post("/v1/referrals", json=body, headers=headers))
        refused(await anonymous.get("/v1/referrals", headers=headers))
        problem = refused(await anonymous.get("/v1/referrals/any-id", headers=headers))
        assert token not in str(problem), reason
    no_token = await anonymous.get("/v1/referrals")
    assert no_token.headers["www-authenticate"] == REALM
    refused(no_token, token_sent=False)
    # None of the refused posts made a referral.
    mine = await anonymous.get(
        "/v1/referrals",
        params={"subject_member_id": body["subject_member_id"]},
        headers=token_issuer.bearer(),
    )
    assert mine.json()["items"] == []


async def test_refusals_are_logged_without_the_token(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.mint(audience="another-api")
    with structlog.testing.capture_logs() as logs:
        refused(await anonymous.get("/v1/referrals", headers={"Authorization": f"Bearer {token}"}))
    failures = [e for e in logs if e["event"] == "authentication failed"]
    assert [e["reason"] for e in failures] == ["token has the wrong audience"]
    assert token.split(".")[2] not in repr(logs)


async def test_a_missing_scope_is_403(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer, referral_body: ReferralBody
) -> None:
    read_only = token_issuer.bearer(scopes=[REFERRALS_READ])
    created = await anonymous.post("/v1/referrals", json=referral_body(), headers=read_only)
    assert created.status_code == 403, created.text
    assert created.headers["content-type"] == PROBLEM
    assert created.headers["www-authenticate"] == (
        f'{REALM}, error="insufficient_scope", scope="{REFERRALS_WRITE}"'
    )
    write_only = token_issuer.bearer(scopes=[REFERRALS_WRITE])
    assert (await anonymous.get("/v1/referrals", headers=write_only)).status_code == 403


async def test_another_organizations_referral_is_not_found(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer, referral_body: ReferralBody
) -> None:
    body = referral_body()
    assert body["requester"]["organization_id"] == TEST_PROGRAM
    created = await anonymous.post("/v1/referrals", json=body, headers=token_issuer.bearer())
    assert created.status_code == 201, created.text
    location = created.headers["location"]

    # The recipient clinic sees it; a clinic that is no party to it cannot tell it exists.
    recipient = clinician_of(token_issuer, RECIPIENT_CLINIC)
    seen = (await anonymous.get(location, headers=recipient)).json()
    # Without the member's consent the recipient reads it redacted (test_emergency_access).
    assert (seen["referral_id"], seen["disclosure"]["view"]) == (
        created.json()["referral_id"],
        "redacted",
    )
    stranger = clinician_of(token_issuer, OTHER_CLINIC)
    hidden = await anonymous.get(location, headers=stranger)
    assert hidden.status_code == 404, hidden.text
    assert hidden.headers["content-type"] == PROBLEM
    listed = await anonymous.get(
        "/v1/referrals", params={"subject_member_id": body["subject_member_id"]}, headers=stranger
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []


async def test_a_partner_client_creates_for_its_own_organization_only(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer, referral_body: ReferralBody
) -> None:
    partner = {
        "subject": "client-test-harbour-app",
        "client_id": "client-test-harbour-app",
        "roles": [Role.PARTNER_CLIENT],
    }
    own = token_issuer.bearer(**partner)
    created = await anonymous.post("/v1/referrals", json=referral_body(), headers=own)
    assert created.status_code == 201, created.text
    elsewhere = token_issuer.bearer(**partner | {"organization_id": OTHER_CLINIC})
    refused_create = await anonymous.post("/v1/referrals", json=referral_body(), headers=elsewhere)
    assert refused_create.status_code == 403, refused_create.text
    assert refused_create.headers["content-type"] == PROBLEM


async def test_the_issuers_keys_are_published(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    response = await anonymous.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert response.json() == token_issuer.key_set.to_jwks()
    assert all("d" not in key for key in response.json()["keys"])


async def test_refusals_are_audited_in_the_gateways_store_and_on_kafka(
    anonymous: httpx.AsyncClient, gateway: RunningGateway, token_issuer: TokenIssuer
) -> None:
    marker = f"another-api-{uuid.uuid4().hex[:8]}"
    token = token_issuer.mint(audience=marker)
    refused(
        await anonymous.get(
            "/v1/referrals/some-member-id", headers={"Authorization": f"Bearer {token}"}
        )
    )
    read_only = token_issuer.bearer(scopes=[REFERRALS_READ], subject="person-test-read-only")
    assert (await anonymous.post("/v1/referrals", json={}, headers=read_only)).status_code == 403

    connection = await asyncpg.connect(gateway.database_url)
    try:
        rows = await connection.fetch(
            "SELECT audit_id, service, action, resource_id, outcome, reason, peer, "
            "actor_subject_id FROM audit_log ORDER BY occurred_at DESC LIMIT 2"
        )
    finally:
        await connection.close()
    authorize, authenticate = rows
    assert (authenticate["service"], authenticate["action"], authenticate["outcome"]) == (
        "gateway",
        "gateway.authenticate",
        "denied",
    )
    assert authenticate["resource_id"] == "GET /v1/referrals/{referral_id}"
    assert authenticate["reason"] == "token has the wrong audience"
    assert authenticate["peer"] == "127.0.0.1"
    assert authenticate["actor_subject_id"] is None
    assert (authorize["action"], authorize["resource_id"]) == (
        "gateway.authorize",
        "POST /v1/referrals",
    )
    assert authorize["actor_subject_id"] == "person-test-read-only"
    assert token.split(".")[2] not in repr(rows)

    wanted = {str(row["audit_id"]) for row in rows}
    found = await asyncio.to_thread(audit_ids_on_kafka, gateway.settings.kafka_bootstrap, wanted)
    assert found == wanted


def audit_ids_on_kafka(bootstrap: str, wanted: set[str], patience_s: float = 30) -> set[str]:
    """The ids of `wanted` that arrive on the audit topic (CloudEvent id = audit id)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test.gateway.audit.{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    found: set[str] = set()
    try:
        consumer.subscribe([AUDIT_TOPIC])
        deadline = time.monotonic() + patience_s
        while found != wanted and time.monotonic() < deadline:
            message = consumer.poll(0.25)
            if message is None or message.error() is not None:
                continue
            headers = {name: (value or b"").decode() for name, value in message.headers() or []}
            if headers.get("ce_id") in wanted:
                found.add(headers["ce_id"])
    finally:
        consumer.close()
    return found
