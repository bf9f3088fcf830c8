"""What verifying access tokens costs the gateway: the same route, the same app and the
same in-memory backend, with the caller's token verified (RFC 8725 checks, an EdDSA
signature) or taken as already verified (a verifier that returns a fixed caller: the
same code path minus the verification; FastAPI's dependency overrides would add
costs of their own).

In process (ASGI), so what differs between the two is the verification alone, not
the network. The two variants run in alternating rounds, so drift of the machine
touches both alike.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from peerbridge_gateway.app import create_app
from peerbridge_gateway.clients.in_memory import InMemoryReferrals
from peerbridge_gateway.config import GatewaySettings
from peerbridge_gateway.idempotency.memory_store import InMemoryIdempotencyStore
from peerbridge_platform.auth import (
    KeySet,
    Principal,
    Role,
    SigningKey,
    StaticJwksSource,
    TokenVerifier,
    issue_access_token,
)
from peerbridge_platform.crypto import new_key_entry
from peerbridge_platform.logging import configure_logging

ROUNDS = 10
WARM_UP = 100
SCOPES = ("referrals.read", "referrals.write")
ORGANIZATION = "bench-program"


def _referral_body() -> dict[str, Any]:
    program = {
        "kind": "peer_support_program",
        "organization_id": ORGANIZATION,
        "display_name": "Bench Program (synthetic)",
    }
    clinic = {
        "kind": "clinic",
        "organization_id": "bench-clinic",
        "display_name": "Bench Clinic (synthetic)",
    }
    return {
        "subject_member_id": str(uuid.uuid4()),
        "direction": "peer_support_to_clinic",
        "category": "peer_support",
        "priority": "routine",
        "reason": "Synthetic benchmark referral.",
        "requester": program,
        "recipient": clinic,
    }


class _AlreadyVerified:
    """A BearerVerifier that trusts every token: the unauthenticated baseline."""

    def __init__(self, principal: Principal) -> None:
        self._principal = principal

    async def verify(self, token: str) -> Principal:
        return self._principal


def _fixed_caller() -> Principal:
    return Principal(
        subject="bench-partner",
        roles=frozenset({Role.PARTNER_CLIENT}),
        scopes=frozenset(SCOPES),
        organization_id=ORGANIZATION,
        client_id="bench-partner",
        token_id=str(uuid.uuid4()),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


async def _timed_gets(client: httpx.AsyncClient, path: str, token: str, count: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        durations.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text}")
    return durations


async def _measure(requests: int) -> dict[str, Any]:
    # Request logs would dominate the output; both variants log alike either way.
    configure_logging("bench", "WARNING", "console")
    key_set = KeySet(SigningKey.generate())
    settings = GatewaySettings(
        database_url="postgresql://unused.invalid/unused",  # type: ignore[arg-type]
        encryption_keys=new_key_entry("bench"),  # type: ignore[arg-type]
        log_level="WARNING",
    )
    verifier = TokenVerifier(
        settings.token_issuer, settings.token_audience, StaticJwksSource.from_key_set(key_set)
    )
    token = issue_access_token(
        key_set.active,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        subject="bench-partner",
        roles=[Role.PARTNER_CLIENT],
        scopes=SCOPES,
        organization_id=ORGANIZATION,
        client_id="bench-partner",
        lifetime_s=3600,
    )
    referrals = InMemoryReferrals()
    verified = create_app(
        settings,
        referrals=referrals,
        idempotency_store=InMemoryIdempotencyStore(),
        token_verifier=verifier,
    )
    trusted = create_app(
        settings,
        referrals=referrals,
        idempotency_store=InMemoryIdempotencyStore(),
        token_verifier=_AlreadyVerified(_fixed_caller()),
    )

    per_round = max(1, requests // ROUNDS)
    samples: dict[str, list[float]] = {"verified": [], "trusted": []}
    async with (
        verified.router.lifespan_context(verified),
        trusted.router.lifespan_context(trusted),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(verified), base_url="http://gateway.bench"
        ) as verified_client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(trusted), base_url="http://gateway.bench"
        ) as trusted_client,
    ):
        created = await verified_client.post(
            "/v1/referrals", json=_referral_body(), headers={"Authorization": f"Bearer {token}"}
        )
        created.raise_for_status()
        path = f"/v1/referrals/{created.json()['referral_id']}"
        clients = {"verified": verified_client, "trusted": trusted_client}
        for client in clients.values():
            await _timed_gets(client, path, token, WARM_UP)
        for _ in range(ROUNDS):
            for name, client in clients.items():
                samples[name] += await _timed_gets(client, path, token, per_round)

    verify_only = []
    for _ in range(per_round):
        started = time.perf_counter()
        await verifier.verify(token)
        verify_only.append(time.perf_counter() - started)

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "mean_us": round(statistics.fmean(values) * 1e6, 1),
            "p50_us": round(statistics.median(values) * 1e6, 1),
        }

    with_auth, without = summary(samples["verified"]), summary(samples["trusted"])
    return {
        "route": "GET /v1/referrals/{referral_id}",
        "requests_each": len(samples["verified"]),
        "authenticated": with_auth,
        "unauthenticated": without,
        "token_verify_alone": summary(verify_only),
        "mean_ratio": round(with_auth["mean_us"] / without["mean_us"], 3),
        "p50_ratio": round(with_auth["p50_us"] / without["p50_us"], 3),
    }


def token_verification_cost(requests: int) -> dict[str, Any]:
    """Authenticated vs unauthenticated requests on the same route, `requests` of each."""
    return asyncio.run(_measure(requests))
