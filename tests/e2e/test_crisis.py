"""Crisis escalation through the running platform, as a partner app and an EHR see it: a
flag with a route (the member's clinic, under consent) and one without (the coordinators,
until acknowledged), with the 988 guidance, the escalation event and the clinic's FHIR view.
Every person is synthetic. It sets no on-call supervisor: the demo's flags rely on none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from peerbridge_devstack.ehr import FHIR_TOPIC, EhrConsumer, Received
from peerbridge_devstack.launch import RunningPlatform
from peerbridge_devstack.seed import Seed, password_token

pytestmark = pytest.mark.e2e

EVENTS_TOPIC = "peerbridge.referrals.events.v1"


def as_person(seed: Seed, who: str) -> dict[str, str]:
    person = seed.people[who]
    token = password_token(seed.gateway_url, person.username, person.password)
    return {"Authorization": f"Bearer {token['access_token']}"}


def flag(member: str, program: str, **changes: str) -> dict[str, str]:
    body = {
        "member_id": member,
        "program_id": program,
        "level": "imminent",
        "kind": "overdose",
        "source": "peer_supporter",
    }
    return body | changes


def consent_to_clinic(seed: Seed, member: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "subject_member_id": seed.people[member].person_id,
        "disclosing_organization_id": seed.program_id,
        "categories": ["referral_details"],
        "recipient_organization_ids": [seed.clinic_id],
        "purposes": ["treat"],
        "revocation_instructions": "Revoke in the app or tell your peer supporter.",
        "valid_from": now.isoformat(),
        "expires_at": (now + timedelta(days=30)).isoformat(),
        "capture_method": "signed_electronically",
        "signed_at": now.isoformat(),
    }


def test_a_flag_with_a_route_reaches_the_clinic_and_one_without_waits_for_a_person(
    platform: RunningPlatform, gateway: httpx.Client, seed: Seed
) -> None:
    program, ben = seed.program_id, seed.people["member-ben"].person_id
    cleo = seed.people["member-cleo"].person_id
    as_ben = as_person(seed, "member-ben")
    contact = gateway.put(
        f"/v1/members/{ben}/clinical-contact",
        json={"program_id": program, "organization_id": seed.clinic_id, "display_name": "Clinic"},
        headers=as_ben,
    )
    consent = gateway.post(
        "/v1/consents", json=consent_to_clinic(seed, "member-ben"), headers=as_ben
    )
    routed = gateway.post(
        "/v1/risk-flags",
        json=flag(ben, program),
        headers=as_person(seed, "supporter") | {"Idempotency-Key": str(uuid.uuid4())},
    )
    unrouted = gateway.post(
        "/v1/risk-flags",
        json=flag(cleo, program, level="elevated", kind="other", source="check_in"),
        headers=as_person(seed, "member-cleo"),
    )
    assert contact.status_code == 200, contact.text
    assert consent.status_code == 201, consent.text
    assert routed.status_code == 201, routed.text
    assert unrouted.status_code == 201, unrouted.text
    to_clinic, to_coordinators = routed.json()["flag"], unrouted.json()["flag"]
    assert to_clinic["route"] == "clinical_contact"
    assert to_coordinators["route"] == "coordinators"
    for answer in (routed.json(), unrouted.json()):
        assert answer["guidance"]["call_number"] == "988"
        assert answer["guidance"]["emergency_number"] == "911"

    coordinator = as_person(seed, "coordinator")
    listing = {"program_id": program, "unhandled": "true", "limit": "100"}
    before = gateway.get("/v1/risk-flags", params=listing, headers=coordinator).json()["items"]
    member_refused = gateway.post(
        f"/v1/risk-flags/{to_coordinators['flag_id']}/acknowledge",
        json={},
        headers=as_person(seed, "member-cleo"),
    )
    handled = gateway.post(
        f"/v1/risk-flags/{to_coordinators['flag_id']}/acknowledge",
        json={},
        headers=as_person(seed, "supervisor"),
    )
    after = gateway.get("/v1/risk-flags", params=listing, headers=coordinator).json()["items"]
    assert to_coordinators["flag_id"] in [f["flag_id"] for f in before]
    assert member_refused.status_code in (403, 404)
    assert handled.json()["status"] == "acknowledged"
    assert to_coordinators["flag_id"] not in [f["flag_id"] for f in after]

    # What leaves the platform: the escalation event, and the clinic's FHIR view of the
    # crisis referral, full under Ben's consent.
    referral_id = to_clinic["referral_id"]
    ehr = EhrConsumer(platform.kafka_bootstrap)

    def arrived(items: list[Received]) -> bool:
        keys = {(i.topic, i.key) for i in items}
        return {(EVENTS_TOPIC, to_clinic["flag_id"]), (FHIR_TOPIC, referral_id)} <= keys

    try:
        received = ehr.collect(arrived, timeout_s=60)
    finally:
        ehr.close()
    assert arrived(received)
    [view] = [i for i in received if i.topic == FHIR_TOPIC and i.key == referral_id]
    assert isinstance(view.body, dict)
    resources = {e["resource"]["resourceType"]: e["resource"] for e in view.body["entry"]}
    assert resources["Task"]["priority"] == "stat"
    assert "Consent" in resources
