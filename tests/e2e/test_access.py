"""Identity and access through the running platform: sign-in, refresh, key rotation, what
each role sees, and supporter eligibility reaching Kafka. Every person is synthetic."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import grpc
import httpx
import pytest
from confluent_kafka import Consumer

from peerbridge.identity.v1 import identity_events_pb2, identity_service_pb2
from peerbridge.identity.v1 import identity_service_pb2_grpc as identity_grpc
from peerbridge_devstack.launch import RunningPlatform
from peerbridge_devstack.seed import Seed, password_token

pytestmark = pytest.mark.e2e

IDENTITY_EVENTS = "peerbridge.identity.events.v1"


def sign_in(seed: Seed, who: str) -> dict[str, Any]:
    person = seed.people[who]
    return password_token(seed.gateway_url, person.username, person.password)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def kid_of(token: str) -> str:
    header = token.split(".", 1)[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


def referral_for(seed: Seed, member: str) -> dict[str, Any]:
    return {
        "subject_member_id": seed.people[member].person_id,
        "direction": "peer_support_to_clinic",
        "category": "primary_care",
        "priority": "routine",
        "reason": "Synthetic: asks for a primary care appointment.",
        "requester": {
            "kind": "peer_support_program",
            "organization_id": seed.program_id,
            "display_name": "Harbour Peer Recovery (demo)",
        },
        "recipient": {
            "kind": "clinic",
            "organization_id": seed.clinic_id,
            "display_name": "Northside Health Clinic (demo)",
        },
    }


@pytest.fixture(scope="module")
def referrals(platform: RunningPlatform, seed: Seed, partner_token: str) -> dict[str, str]:
    """One referral each for Ava and Ben, sent by the program's partner app."""
    created: dict[str, str] = {}
    with httpx.Client(base_url=platform.gateway_url, timeout=15) as client:
        for member in ("member-ava", "member-ben"):
            response = client.post(
                "/v1/referrals", json=referral_for(seed, member), headers=bearer(partner_token)
            )
            assert response.status_code == 201, response.text
            created[member] = response.json()["referral_id"]
    return created


def test_a_person_signs_in_and_refreshes_and_a_replay_revokes_the_family(
    gateway: httpx.Client, seed: Seed
) -> None:
    tokens = sign_in(seed, "member-ava")
    assert tokens["token_type"].lower() == "bearer"
    assert 0 < tokens["expires_in"] <= 300

    renewed = gateway.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert renewed.status_code == 200, renewed.text
    assert renewed.headers["cache-control"] == "no-store"
    successor = renewed.json()["refresh_token"]
    assert successor != tokens["refresh_token"]

    replayed = gateway.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"
    # The replay revoked the family: the successor is dead too.
    after = gateway.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": successor}
    )
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"


def test_a_wrong_password_and_an_unknown_user_answer_alike(
    gateway: httpx.Client, seed: Seed
) -> None:
    wrong = gateway.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": seed.people["member-cleo"].username,
            "password": "not-the-password-at-all",
        },
    )
    unknown = gateway.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": f"nobody-{uuid.uuid4().hex[:8]}",
            "password": "not-the-password-at-all",
        },
    )
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()


def test_every_api_route_wants_a_token(gateway: httpx.Client, referrals: dict[str, str]) -> None:
    for method, path in (
        ("GET", "/v1/referrals"),
        ("GET", f"/v1/referrals/{referrals['member-ava']}"),
        ("POST", "/v1/referrals"),
    ):
        response = gateway.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"].lower().startswith("bearer")
        assert response.headers["content-type"].startswith("application/problem+json")
    tampered = sign_in_token_tampered(gateway)
    assert gateway.get("/v1/referrals", headers=bearer(tampered)).status_code == 401


def sign_in_token_tampered(gateway: httpx.Client) -> str:
    jwks = gateway.get("/.well-known/jwks.json").json()
    assert jwks["keys"]
    assert all("d" not in key for key in jwks["keys"])
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "typ": "at+jwt", "kid": jwks["keys"][0]["kid"]}).encode()
    )
    claims = base64.urlsafe_b64encode(json.dumps({"sub": "someone", "roles": ["admin"]}).encode())
    return f"{header.decode().rstrip('=')}.{claims.decode().rstrip('=')}."


def test_each_role_sees_what_it_may(
    gateway: httpx.Client, seed: Seed, referrals: dict[str, str]
) -> None:
    ava = bearer(sign_in(seed, "member-ava")["access_token"])
    own = gateway.get("/v1/referrals", headers=ava)
    assert own.status_code == 200
    ids = {item["referral_id"] for item in own.json()["items"]}
    assert referrals["member-ava"] in ids
    assert referrals["member-ben"] not in ids
    # Another member's referral does not exist, as far as Ava can tell.
    assert gateway.get(f"/v1/referrals/{referrals['member-ben']}", headers=ava).status_code == 404
    # A member does not create referrals.
    refused = gateway.post("/v1/referrals", json=referral_for(seed, "member-ava"), headers=ava)
    assert refused.status_code == 403

    clinician = bearer(sign_in(seed, "clinician")["access_token"])
    seen = {
        i["referral_id"] for i in gateway.get("/v1/referrals", headers=clinician).json()["items"]
    }
    assert set(referrals.values()) <= seen

    coordinator = bearer(sign_in(seed, "coordinator")["access_token"])
    fetched = gateway.get(f"/v1/referrals/{referrals['member-ben']}", headers=coordinator)
    assert fetched.status_code == 200

    admin = bearer(sign_in(seed, "admin")["access_token"])
    # Least privilege: administrators manage access, not clinical records.
    assert gateway.get("/v1/referrals", headers=admin).status_code in (403, 404)


def published_kids(gateway: httpx.Client, wanted: str, patience_s: float = 10) -> set[str]:
    """The kids at /.well-known/jwks.json, once `wanted` is among them (it is cached briefly)."""
    deadline = time.monotonic() + patience_s
    while True:
        kids = {key["kid"] for key in gateway.get("/.well-known/jwks.json").json()["keys"]}
        if wanted in kids or time.monotonic() > deadline:
            return kids
        time.sleep(0.2)


def test_signing_keys_rotate_without_breaking_tokens_in_flight(
    platform: RunningPlatform, gateway: httpx.Client, seed: Seed, referrals: dict[str, str]
) -> None:
    before = sign_in(seed, "coordinator")["access_token"]
    admin = sign_in(seed, "admin")["access_token"]
    with grpc.insecure_channel(platform.identity_target) as channel:
        rotated = identity_grpc.IdentityServiceStub(channel).RotateSigningKey(
            identity_service_pb2.RotateSigningKeyRequest(),
            metadata=(("authorization", f"Bearer {admin}"),),
            timeout=10,
        )
    # Published at once, signing after the pre-publication (seconds here, a minute by default).
    assert {kid_of(before), rotated.kid} <= published_kids(gateway, wanted=rotated.kid)
    deadline = time.monotonic() + 15
    after = sign_in(seed, "coordinator")["access_token"]
    while kid_of(after) != rotated.kid and time.monotonic() < deadline:
        time.sleep(0.3)
        after = sign_in(seed, "coordinator")["access_token"]
    assert kid_of(after) == rotated.kid != kid_of(before)
    assert {kid_of(before), kid_of(after)} <= published_kids(gateway, wanted=kid_of(after))
    path = f"/v1/referrals/{referrals['member-ava']}"
    # The gateway and the referrals service both learn the new key; the old one still works.
    assert gateway.get(path, headers=bearer(after)).status_code == 200
    assert gateway.get(path, headers=bearer(before)).status_code == 200


def test_supporter_eligibility_reaches_kafka(platform: RunningPlatform, seed: Seed) -> None:
    supporter = seed.people["supporter"].person_id
    consumer = Consumer(
        {
            "bootstrap.servers": platform.kafka_bootstrap,
            "group.id": f"e2e-eligibility-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([IDENTITY_EVENTS])
    found: list[identity_events_pb2.SupporterEligibilityChanged] = []
    try:
        # By time, not by count: on a shared broker the topic holds other runs' events too.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                if found:
                    break
                continue
            headers = dict(message.headers() or [])
            ce_type = headers.get("ce_type")
            value = message.value()
            if ce_type == b"peerbridge.identity.v1.SupporterEligibilityChanged" and value:
                event = identity_events_pb2.SupporterEligibilityChanged.FromString(value)
                if event.person_id == supporter:
                    found.append(event)
    finally:
        consumer.close()
    assert found, "no SupporterEligibilityChanged for the seeded supporter"
