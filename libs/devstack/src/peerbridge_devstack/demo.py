"""`make demo`: partner clients send synthetic referrals with real tokens; people see
what their role allows; an EHR shows what it receives.

Needs the platform running (`make run`); seeds it first if `make seed` has not
run yet. Every person here is synthetic.
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from peerbridge_platform.auth import CLIENT_ASSERTION_TYPE, create_client_assertion

from .ehr import FHIR_TOPIC, EhrConsumer, Received
from .errors import StackError
from .seed import CLINIC_NAME, PROGRAM_NAME, Seed, ensure_seeded, password_token
from .stack_settings import StackSettings

# (who sends it, to whom, for which member, what for); organisations and people
# come from the seed, so every id is a real one of this platform.
SYNTHETIC_REFERRALS: list[dict[str, Any]] = [
    {
        "client": "partner-app",
        "member": "member-ava",
        "direction": "peer_support_to_clinic",
        "category": "medication_for_opioid_use_disorder",
        "priority": "urgent",
        "reason": "Asked for help starting buprenorphine after a peer session.",
    },
    {
        "client": "partner-app",
        "member": "member-ben",
        "direction": "peer_support_to_clinic",
        "category": "mental_health_counselling",
        "priority": "routine",
        "reason": "Would like counselling alongside weekly group.",
    },
    {
        "client": "ehr",
        "member": "member-cleo",
        "direction": "clinic_to_peer_support",
        "category": "peer_support",
        "priority": "routine",
        "reason": "Discharged from detox; wants a peer supporter.",
    },
]


def referral_body(seed: Seed, item: dict[str, Any]) -> dict[str, Any]:
    program = {
        "kind": "peer_support_program",
        "organization_id": seed.program_id,
        "display_name": PROGRAM_NAME,
    }
    clinic = {"kind": "clinic", "organization_id": seed.clinic_id, "display_name": CLINIC_NAME}
    outbound = item["direction"] == "peer_support_to_clinic"
    return {
        "subject_member_id": seed.people[item["member"]].person_id,
        "direction": item["direction"],
        "category": item["category"],
        "priority": item["priority"],
        "reason": item["reason"],
        "requester": program if outbound else clinic,
        "recipient": clinic if outbound else program,
    }


def client_token(client: httpx.Client, seed: Seed, name: str) -> str:
    """A partner client's access token: client credentials with a signed assertion."""
    assertion = create_client_assertion(
        seed.client_key(name),
        client_id=seed.clients[name].client_id,
        token_endpoint=f"{token_issuer(seed)}/v1/auth/token",
    )
    response = client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": "referrals.read referrals.write",
        },
    )
    if response.status_code != 200:
        raise StackError(f"client credentials for {name}: {response.status_code} {response.text}")
    token: str = response.json()["access_token"]
    return token


def token_issuer(seed: Seed) -> str:
    return os.environ.get("PEERBRIDGE_TOKEN_ISSUER") or seed.gateway_url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def task_status(item: Received) -> str | None:
    if not isinstance(item.body, dict):
        return None
    for entry in item.body.get("entry", []):
        if entry["resource"]["resourceType"] == "Task":
            status: str | None = entry["resource"].get("status")
            return status
    return None


def describe(item: Received) -> str:
    if item.topic == FHIR_TOPIC and isinstance(item.body, dict):
        resources = {
            e["resource"]["resourceType"]: e["resource"] for e in item.body.get("entry", [])
        }
        task = resources.get("Task", {})
        request = resources.get("ServiceRequest", {})
        labels = [c.get("code") for c in task.get("meta", {}).get("security", [])]
        owner = task.get("owner", {}).get("identifier", {}).get("value")
        code = request.get("code", {}).get("coding", [{}])[0].get("display")
        head = (
            f"    FHIR Bundle: Task status={task.get('status')} intent={task.get('intent')} "
            f"priority={task.get('priority')} owner={owner}\n"
        )
        if code is None:
            return head + (
                "                 minimal: no consent covers this recipient, so no member, "
                f"category or reason; security labels {labels}"
            )
        consented = " under the member's consent" if "Consent" in resources else ""
        return (
            head + f"                 ServiceRequest: {code}{consented}; security labels {labels}"
        )
    return (
        f"    event {item.ce_type} (ce_id {item.ce_id}): {str(item.body).strip()!s:.200}".replace(
            "\n", ", "
        )
    )


def main() -> int:
    settings = StackSettings()
    gateway = os.environ.get("PEERBRIDGE_GATEWAY_URL", settings.gateway_url)
    bootstrap = os.environ.get(
        "PEERBRIDGE_KAFKA_BOOTSTRAP", f"{settings.host}:{settings.kafka_port}"
    )
    try:
        httpx.get(f"{gateway}/readyz", timeout=3).raise_for_status()
    except httpx.HTTPError as exc:
        print(
            f"The gateway at {gateway} is not ready ({exc}). Start the platform with "
            "`make run` in another terminal, then run `make demo` again.",
            file=sys.stderr,
        )
        return 1
    try:
        seed = ensure_seeded(settings)
        ehr = EhrConsumer(bootstrap)
        with httpx.Client(base_url=gateway, timeout=10) as client:
            tokens = {name: client_token(client, seed, name) for name in seed.clients}
            print("partner clients signed in with private_key_jwt (ES384) and got 5-minute tokens")
            consents(client, seed)
            crisis(client, seed)
            created = send_referrals(client, seed, tokens)
            round_trip(client, tokens, created["member-ava"])
            show_access(client, seed, created)
    except StackError as error:
        print(f"The demo stopped: {error}", file=sys.stderr)
        return 1
    return show_what_the_ehr_received(ehr, created, completed=created["member-ava"])


def send_referrals(client: httpx.Client, seed: Seed, tokens: dict[str, str]) -> dict[str, str]:
    """Referral id by member key, each sent by the partner client named in the item."""
    created: dict[str, str] = {}
    for item in SYNTHETIC_REFERRALS:
        response = client.post(
            "/v1/referrals",
            json=referral_body(seed, item),
            headers=bearer(tokens[item["client"]]) | {"Idempotency-Key": str(uuid.uuid4())},
        )
        if response.status_code != 201:
            raise StackError(f"POST /v1/referrals answered {response.status_code}: {response.text}")
        referral = response.json()
        created[item["member"]] = referral["referral_id"]
        print(
            f"{item['client']} created referral {referral['referral_id']} "
            f"({item['category']}, {item['priority']}) -> status {referral['status']}"
        )
    return created


def consent_terms(seed: Seed, member: str) -> dict[str, Any]:
    """A consent under 42 CFR 2.31: the program may tell the clinic about the member's
    referrals, for treatment, for a year."""
    now = datetime.now(UTC)
    return {
        "subject_member_id": seed.people[member].person_id,
        "disclosing_organization_id": seed.program_id,
        "categories": ["referral_details"],
        "recipient_organization_ids": [seed.clinic_id],
        "purposes": ["treat"],
        "revocation_instructions": "Tell your peer supporter or coordinator, or revoke it "
        "in the app; it stops every disclosure from then on.",
        "valid_from": now.isoformat(),
        "expires_at": (now + timedelta(days=365)).isoformat(),
        "capture_method": "signed_electronically",
        "signed_at": now.isoformat(),
    }


def consents(client: httpx.Client, seed: Seed) -> None:
    """Ava consents to the program telling the clinic about her referrals; Ben consents,
    then changes his mind and revokes it. Each member signs in and does it themselves."""
    print("\nconsent to disclose (42 CFR Part 2):")
    for member, revoke in (("member-ava", False), ("member-ben", True)):
        person = seed.people[member]
        token = password_token(seed.gateway_url, person.username, person.password)
        headers = bearer(token["access_token"])
        given = client.post("/v1/consents", json=consent_terms(seed, member), headers=headers)
        if given.status_code != 201:
            raise StackError(f"POST /v1/consents answered {given.status_code}: {given.text}")
        name = member.removeprefix("member-").capitalize()
        print(
            f"  {name} consents to the clinic receiving her referral details for treatment"
            if not revoke
            else f"  {name} consents too"
        )
        if revoke:
            consent_id = given.json()["consent_id"]
            revoked = client.post(
                f"/v1/consents/{consent_id}/revoke",
                json={"reason": "Changed his mind."},
                headers=headers,
            )
            if revoked.status_code != 200:
                raise StackError(f"revoking answered {revoked.status_code}: {revoked.text}")
            print(f"  {name} revokes it at once: status {revoked.json()['status']}")


def signed_in(seed: Seed, key: str) -> dict[str, str]:
    person = seed.people[key]
    return bearer(
        password_token(seed.gateway_url, person.username, person.password)["access_token"]
    )


def expect(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise StackError(f"{what} answered {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


def crisis(client: httpx.Client, seed: Seed) -> None:
    """Risk flags: Ava's goes to her clinic as an urgent crisis referral, since she named
    it as her clinical contact and consented; Cleo's has no route, so the coordinators see
    it unhandled until the supervisor acknowledges it. Each answer carries 988 guidance."""
    print("\ncrisis escalation (risk flags):")
    program = seed.program_id
    ava, cleo = seed.people["member-ava"].person_id, seed.people["member-cleo"].person_id
    expect(
        client.put(
            f"/v1/members/{ava}/clinical-contact",
            json={
                "program_id": program,
                "organization_id": seed.clinic_id,
                "display_name": CLINIC_NAME,
            },
            headers=signed_in(seed, "member-ava"),
        ),
        200,
        "PUT clinical-contact",
    )
    print(f"  Ava names {CLINIC_NAME} as her clinical contact")
    flag = {
        "program_id": program,
        "level": "imminent",
        "kind": "self_harm",
        "source": "peer_supporter",
    }
    raised = expect(
        client.post(
            "/v1/risk-flags",
            json=flag | {"member_id": ava},
            headers=signed_in(seed, "supporter") | {"Idempotency-Key": str(uuid.uuid4())},
        ),
        201,
        "POST /v1/risk-flags",
    )
    routed = raised["flag"]
    print(
        f"  Riley flags an imminent risk for Ava: route {routed['route']}, "
        f"crisis referral {routed['referral_id']} to the clinic"
    )
    guidance = raised["guidance"]
    print(
        f"  guidance: call or text {guidance['call_number']}, chat {guidance['chat_url']}, "
        f"immediate danger {guidance['emergency_number']}"
    )
    raised = expect(
        client.post(
            "/v1/risk-flags",
            json=flag
            | {
                "member_id": cleo,
                "level": "elevated",
                "kind": "return_to_use",
                "source": "check_in",
            },
            headers=signed_in(seed, "member-cleo"),
        ),
        201,
        "POST /v1/risk-flags",
    )
    unrouted = raised["flag"]
    print(
        f"  Cleo's check-in flags an elevated risk: no clinical contact or on-call supervisor, "
        f"route {unrouted['route']}, status {unrouted['status']}"
    )
    coordinator = signed_in(seed, "coordinator")
    listing = {"program_id": program, "unhandled": "true", "limit": "100"}
    before = expect(client.get("/v1/risk-flags", params=listing, headers=coordinator), 200, "GET")
    shown = unrouted["flag_id"] in [f["flag_id"] for f in before["items"]]
    print(f"  Casey (coordinator) sees Cleo's flag among the unhandled: {'yes' if shown else 'no'}")
    handled = expect(
        client.post(
            f"/v1/risk-flags/{unrouted['flag_id']}/acknowledge",
            json={},
            headers=signed_in(seed, "supervisor"),
        ),
        200,
        "acknowledge",
    )
    after = expect(client.get("/v1/risk-flags", params=listing, headers=coordinator), 200, "GET")
    gone = unrouted["flag_id"] not in [f["flag_id"] for f in after["items"]]
    print(
        f"  Sam (supervisor) acknowledges it: status {handled['status']}; "
        f"off the unhandled list: {'yes' if gone else 'no'}"
    )


def round_trip(client: httpx.Client, tokens: dict[str, str], referral_id: str) -> None:
    """The clinic's EHR works the program's referral through to completion; the program
    may not do the clinic's part."""
    print(f"\nthe clinic's EHR works referral {referral_id}:")
    path = f"/v1/referrals/{referral_id}/status"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("ehr", {"status": "accepted", "expected_version": 1}),
        ("partner-app", {"status": "completed", "outcome": "Says it went well."}),
        ("ehr", {"status": "in-progress"}),
        ("ehr", {"status": "completed", "outcome": "First visit done; follow-up booked."}),
    ]
    for client_name, change in steps:
        answer = client.post(path, json=change, headers=bearer(tokens[client_name]))
        if answer.is_success:
            print(
                f"  {client_name} sets {change['status']}: now version {answer.json()['version']}"
            )
        elif client_name == "partner-app" and answer.status_code == 403:
            print(f"  {client_name} tries to set {change['status']}: 403 (the clinic's part)")
        else:
            raise StackError(f"POST {path} answered {answer.status_code}: {answer.text}")


def show_access(client: httpx.Client, seed: Seed, created: dict[str, str]) -> None:
    """Each person sees what their role allows, and nothing else."""
    print("\nwho sees what (people sign in with a password):")
    ava = seed.people["member-ava"]
    tokens = password_token(seed.gateway_url, ava.username, ava.password)
    own = client.get("/v1/referrals", headers=bearer(tokens["access_token"]))
    print(f"  Ava (member) lists referrals: {len(own.json().get('items', []))} (her own only)")
    other = client.get(
        f"/v1/referrals/{created['member-ben']}", headers=bearer(tokens["access_token"])
    )
    print(f"  Ava asks for Ben's referral: {other.status_code} (as if it did not exist)")
    clinician = seed.people["clinician"]
    clinician_token = password_token(seed.gateway_url, clinician.username, clinician.password)
    listed = client.get("/v1/referrals", headers=bearer(clinician_token["access_token"]))
    print(
        f"  the clinician lists referrals: {len(listed.json().get('items', []))} (their clinic's)"
    )
    admin = seed.people["admin"]
    admin_token = password_token(seed.gateway_url, admin.username, admin.password)
    refused = client.get("/v1/referrals", headers=bearer(admin_token["access_token"]))
    print(f"  the administrator lists referrals: {refused.status_code} (no clinical access)")
    anonymous = client.get("/v1/referrals")
    print(f"  no token at all: {anonymous.status_code}")
    renewed = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    replayed = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    print(
        f"  Ava's refresh token: first use {renewed.status_code}, "
        f"replayed {replayed.status_code} {replayed.json().get('error')} (the family is revoked)"
    )


def show_what_the_ehr_received(ehr: EhrConsumer, created: dict[str, str], completed: str) -> int:
    print("\nwhat a clinic EHR receives from Kafka:")
    wanted = set(created.values())

    def all_arrived(items: list[Received]) -> bool:
        created_and_viewed = {(i.key, i.topic) for i in items if i.key in wanted} >= {
            (key, topic)
            for key in wanted
            for topic in ("peerbridge.referrals.events.v1", FHIR_TOPIC)
        }
        return created_and_viewed and any(
            i.key == completed and i.topic == FHIR_TOPIC and task_status(i) == "completed"
            for i in items
        )

    try:
        received = ehr.collect(all_arrived, timeout_s=30)
    finally:
        ehr.close()
    for key in created.values():
        print(f"  referral {key}")
        for item in received:
            if item.key == key:
                print(describe(item))
    missing = not all_arrived(received)
    if missing:
        print(
            "some events did not arrive within 30 s: check the referrals service's log",
            file=sys.stderr,
        )
    return 1 if missing else 0
