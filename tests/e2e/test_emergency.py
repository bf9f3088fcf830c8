"""The consent gate on a clinician's reads and break-the-glass (42 CFR 2.51) through the
running platform with real tokens: the clinic's clinician reads a program's referral
redacted without the member's consent, breaks the glass in an emergency and gets it whole;
the member finds the ETREAT disclosure in their accounting; the program's coordinator
lists it as unreviewed and reviews it. Every person is synthetic."""

from __future__ import annotations

import uuid

import httpx
import pytest

from peerbridge_devstack.demo import referral_body
from peerbridge_devstack.launch import RunningPlatform
from peerbridge_devstack.seed import Seed

from .test_crisis import as_person

pytestmark = pytest.mark.e2e

NATURE = f"Synthetic e2e emergency {uuid.uuid4().hex[:8]}: unresponsive, suspected overdose."


def test_a_clinician_breaks_the_glass_and_the_program_reviews_it(
    platform: RunningPlatform, gateway: httpx.Client, seed: Seed
) -> None:
    coordinator = as_person(seed, "coordinator")
    clinician = as_person(seed, "clinician")
    item = {
        "member": "member-cleo",
        "direction": "peer_support_to_clinic",
        "category": "detox",
        "priority": "urgent",
        "reason": "Synthetic e2e referral for emergency access.",
    }
    created = gateway.post("/v1/referrals", json=referral_body(seed, item), headers=coordinator)
    assert created.status_code == 201, created.text
    referral_id = created.json()["referral_id"]

    read = gateway.get(f"/v1/referrals/{referral_id}", headers=clinician)
    assert read.status_code == 200, read.text
    # Cleo gave no consent that covers the clinic: the read says that it exists, no more.
    assert read.json()["disclosure"]["view"] == "redacted"
    assert (read.json()["reason"], read.json()["category"]) == ("", None)

    opened = gateway.post(
        f"/v1/referrals/{referral_id}/emergency-access",
        json={"nature_of_emergency": NATURE, "recipient_facility": "Synthetic ED"},
        headers=clinician | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert opened.status_code == 200, opened.text
    assert opened.json()["referral"]["reason"] == item["reason"]
    record = opened.json()["emergency_disclosure"]
    assert record["disclosing_organization_id"] == seed.program_id

    member_id = seed.people["member-cleo"].person_id
    accounting = gateway.get(
        "/v1/disclosures",
        params={"subject_member_id": member_id},
        headers=as_person(seed, "member-cleo"),
    )
    assert any(
        e["referral_id"] == referral_id and e["purpose"] == "ETREAT"
        for e in accounting.json()["items"]
    )

    pending = gateway.get(
        "/v1/emergency-disclosures",
        params={"organization_id": seed.program_id, "unreviewed_only": "true", "limit": 50},
        headers=coordinator,
    )
    assert pending.status_code == 200, pending.text
    assert record["emergency_disclosure_id"] in {
        r["emergency_disclosure_id"] for r in pending.json()["items"]
    }
    reviewed = gateway.post(
        f"/v1/emergency-disclosures/{record['emergency_disclosure_id']}/review",
        json={"note": "Synthetic: confirmed with the ED."},
        headers=coordinator,
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["reviewed"] is True
