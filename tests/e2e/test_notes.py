"""Notes on a referral through the running platform, as `make run` starts it: the program's
coordinator writes a note, the clinic's clinician reads it withheld until the member
consents to disclose substance use treatment information, then in full; the member reads
what was shared with them and finds the disclosure in their accounting; nothing of the
note reaches the events topic. Every person is synthetic."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from peerbridge_devstack.demo import referral_body
from peerbridge_devstack.ehr import EhrConsumer, Received
from peerbridge_devstack.launch import RunningPlatform
from peerbridge_devstack.seed import Seed

from .test_crisis import EVENTS_TOPIC, as_person, consent_to_clinic

pytestmark = pytest.mark.e2e

NOTE = f"Synthetic e2e note {uuid.uuid4().hex[:8]}: cravings at night, wants evening visits."


def notes_consent(seed: Seed, member: str) -> dict[str, Any]:
    """The program may disclose substance use treatment information to the clinic."""
    return consent_to_clinic(seed, member) | {"categories": ["substance_use_treatment"]}


def test_the_clinic_reads_the_programs_note_only_under_the_members_consent(
    platform: RunningPlatform, gateway: httpx.Client, seed: Seed
) -> None:
    coordinator = as_person(seed, "coordinator")
    clinician = as_person(seed, "clinician")
    cleo = as_person(seed, "member-cleo")
    item = {
        "member": "member-cleo",
        "direction": "peer_support_to_clinic",
        "category": "mental_health_counselling",
        "priority": "routine",
        "reason": "Synthetic e2e referral for notes.",
    }
    created = gateway.post("/v1/referrals", json=referral_body(seed, item), headers=coordinator)
    assert created.status_code == 201, created.text
    referral_id = created.json()["referral_id"]
    notes = f"/v1/referrals/{referral_id}/notes"

    added = gateway.post(
        notes, json={"text": NOTE}, headers=coordinator | {"Idempotency-Key": str(uuid.uuid4())}
    )
    shared = gateway.post(
        notes,
        json={"text": "Shared synthetic note.", "shared_with_member": True},
        headers=coordinator,
    )
    assert added.status_code == 201, added.text
    assert shared.status_code == 201, shared.text

    withheld = gateway.get(notes, headers=clinician)
    assert withheld.status_code == 200, withheld.text
    assert [n["text"] for n in withheld.json()["items"]] == [None, None]

    consent = gateway.post("/v1/consents", json=notes_consent(seed, "member-cleo"), headers=cleo)
    assert consent.status_code == 201, consent.text
    try:
        disclosed = gateway.get(notes, headers=clinician)
        assert {n["text"] for n in disclosed.json()["items"]} == {NOTE, "Shared synthetic note."}
        accounting = gateway.get(
            "/v1/disclosures",
            params={"subject_member_id": seed.people["member-cleo"].person_id},
            headers=cleo,
        )
        assert accounting.status_code == 200, accounting.text
        assert any(
            e["referral_id"] == referral_id and e["category"] == "substance_use_treatment"
            for e in accounting.json()["items"]
        )
        own = gateway.get(notes, headers=cleo)
        assert [n["text"] for n in own.json()["items"] if not n["withheld"]] == [
            "Shared synthetic note."
        ]
    finally:
        # Leave Cleo without this consent for the other tests of the session.
        revoked = gateway.post(
            f"/v1/consents/{consent.json()['consent_id']}/revoke", json={}, headers=cleo
        )
        assert revoked.status_code == 200, revoked.text

    # The notes' events reached Kafka, keyed by the referral, without their text.
    consumer = EhrConsumer(platform.kafka_bootstrap, topics=(EVENTS_TOPIC,))

    def note_events(items: list[Received]) -> list[Received]:
        return [i for i in items if i.key == referral_id and i.ce_type.endswith("NoteAdded")]

    try:
        received = consumer.collect(lambda items: len(note_events(items)) >= 2, timeout_s=60)
    finally:
        consumer.close()
    assert len(note_events(received)) == 2
    assert all(NOTE.encode() not in bytes(r.body) for r in note_events(received))  # type: ignore[arg-type]
