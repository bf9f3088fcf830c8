"""Referral creation throughput through the gateway, as a ratio to the same creations
sent straight to the referrals service over gRPC (the baseline, in the same run).

Both paths run against the platform `make run` starts, as the seeded partner app
with one real access token, with the same number of requests in flight. The two
are measured in alternating rounds, so drift of the machine touches both alike.
What the ratio shows is the gateway's share: HTTP, JSON, token verification,
the idempotency record, and its own gRPC call.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import grpc
import httpx

from peerbridge.referrals.v1 import referrals_resources_pb2 as resources
from peerbridge.referrals.v1 import referrals_service_pb2 as service
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc

from .launch import RunningPlatform
from .seed import Seed

ROUNDS = 4


def _body(seed: Seed, referral_body: Any, item: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = referral_body(seed, item) | {"subject_member_id": str(uuid.uuid4())}
    return body


def _request(body: dict[str, Any]) -> service.CreateReferralRequest:
    def party(value: dict[str, Any]) -> resources.Party:
        return resources.Party(
            kind=resources.PartyKind.Value(f"PARTY_KIND_{value['kind'].upper()}"),
            organization_id=value["organization_id"],
            display_name=value["display_name"],
        )

    return service.CreateReferralRequest(
        request_id=str(uuid.uuid4()),
        subject_member_id=body["subject_member_id"],
        direction=resources.ReferralDirection.Value(
            f"REFERRAL_DIRECTION_{body['direction'].upper()}"
        ),
        category=resources.ReferralCategory.Value(f"REFERRAL_CATEGORY_{body['category'].upper()}"),
        priority=resources.ReferralPriority.Value(f"REFERRAL_PRIORITY_{body['priority'].upper()}"),
        reason=body["reason"],
        requester=party(body["requester"]),
        recipient=party(body["recipient"]),
    )


async def _through_gateway(
    url: str, token: str, bodies: list[dict[str, Any]], concurrency: int
) -> float:
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def create(body: dict[str, Any]) -> None:
            async with limit:
                response = await client.post("/v1/referrals", json=body, headers=headers)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(create(body) for body in bodies))
        return len(bodies) / (time.perf_counter() - started)


async def _straight_to_service(
    target: str, token: str, bodies: list[dict[str, Any]], concurrency: int
) -> float:
    limit = asyncio.Semaphore(concurrency)
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(target) as channel:
        stub: Any = service_grpc.ReferralsServiceStub(channel)

        async def create(body: dict[str, Any]) -> None:
            async with limit:
                await stub.CreateReferral(_request(body), metadata=metadata, timeout=30)

        started = time.perf_counter()
        await asyncio.gather(*(create(body) for body in bodies))
        return len(bodies) / (time.perf_counter() - started)


async def _measure(
    running: RunningPlatform, seed: Seed, token: str, count: int, concurrency: int
) -> dict[str, Any]:
    from .demo import SYNTHETIC_REFERRALS, referral_body

    per_round = max(1, count // ROUNDS)
    rates: dict[str, list[float]] = {"gateway": [], "direct": []}
    for round_number in range(ROUNDS):
        bodies = [_body(seed, referral_body, SYNTHETIC_REFERRALS[i % 2]) for i in range(per_round)]
        # Alternate which goes first, so neither always meets a warmer machine.
        order = ["gateway", "direct"] if round_number % 2 == 0 else ["direct", "gateway"]
        for path in order:
            if path == "gateway":
                rate = await _through_gateway(running.gateway_url, token, bodies, concurrency)
            else:
                fresh = [body | {"subject_member_id": str(uuid.uuid4())} for body in bodies]
                rate = await _straight_to_service(
                    running.referrals_target, token, fresh, concurrency
                )
            rates[path].append(rate)
    gateway_rate = sum(rates["gateway"]) / ROUNDS
    direct_rate = sum(rates["direct"]) / ROUNDS
    return {
        "referrals_each": per_round * ROUNDS,
        "in_flight": concurrency,
        "gateway_per_s": round(gateway_rate, 1),
        "direct_grpc_per_s": round(direct_rate, 1),
        "ratio": round(gateway_rate / direct_rate, 3),
    }


def creation_throughput(
    running: RunningPlatform, seed: Seed, token: str, count: int, concurrency: int = 8
) -> dict[str, Any]:
    """Referrals created per second through the gateway and straight over gRPC."""
    return asyncio.run(_measure(running, seed, token, count, concurrency))
