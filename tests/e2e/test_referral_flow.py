"""A partner app posts a referral; a clinic EHR reads it from Kafka."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from peerbridge.referrals.v1 import referrals_events_pb2
from peerbridge_devstack.ehr import EVENTS_TOPIC, FHIR_TOPIC, EhrConsumer, Received
from peerbridge_devstack.launch import RunningPlatform
from peerbridge_devstack.seed import Seed

pytestmark = pytest.mark.e2e


def synthetic_referral(member: str, seed: Seed) -> dict[str, Any]:
    return {
        "subject_member_id": member,
        "direction": "peer_support_to_clinic",
        "category": "medication_for_opioid_use_disorder",
        "priority": "urgent",
        "reason": "Synthetic member asks to start treatment.",
        "requester": {
            "kind": "peer_support_program",
            "organization_id": seed.program_id,
            "display_name": "E2E Peer Program",
        },
        "recipient": {
            "kind": "clinic",
            "organization_id": seed.clinic_id,
            "display_name": "E2E Clinic",
        },
    }


def both_arrived(key: str) -> Any:
    def done(items: list[Received]) -> bool:
        return {i.topic for i in items if i.key == key} >= {EVENTS_TOPIC, FHIR_TOPIC}

    return done


@pytest.fixture
def partner(platform: RunningPlatform, partner_token: str) -> Iterator[httpx.Client]:
    """The program's partner app, with its client-credentials token on every request."""
    headers = {"Authorization": f"Bearer {partner_token}"}
    with httpx.Client(base_url=platform.gateway_url, timeout=15, headers=headers) as client:
        yield client


def test_referral_reaches_the_ehr_as_protobuf_and_fhir(
    platform: RunningPlatform, partner: httpx.Client, seed: Seed
) -> None:
    ehr = EhrConsumer(platform.kafka_bootstrap)
    try:
        response = partner.post(
            "/v1/referrals",
            json=synthetic_referral(str(uuid.uuid4()), seed),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        referral = response.json()
        referral_id = referral["referral_id"]
        assert response.headers["location"].endswith(f"/v1/referrals/{referral_id}")
        received = [i for i in ehr.collect(both_arrived(referral_id), 60) if i.key == referral_id]
    finally:
        ehr.close()

    event = next(i for i in received if i.topic == EVENTS_TOPIC)
    assert event.ce_type == "peerbridge.referrals.v1.ReferralCreated"
    assert event.headers["ce_specversion"] == "1.0"
    assert event.headers["content-type"] == "application/protobuf"
    assert event.headers["ce_subject"] == referral_id
    assert "traceparent" in event.headers
    assert isinstance(event.body, referrals_events_pb2.ReferralCreated)
    assert event.body.referral_id == referral_id
    assert event.body.subject_member_id == referral["subject_member_id"]

    fhir = next(i for i in received if i.topic == FHIR_TOPIC)
    assert fhir.headers["content-type"].startswith("application/fhir+json")
    assert isinstance(fhir.body, dict)
    bundle = Bundle.model_validate_json(json.dumps(fhir.body))
    resources = {entry.resource.get_resource_type(): entry.resource for entry in bundle.entry or []}
    task, request = resources["Task"], resources["ServiceRequest"]
    assert task.status == "requested"
    assert task.intent == "order"
    assert task.priority == "urgent"
    assert task.code.coding[0].code == "fulfill"
    assert task.focus.reference.endswith(request.id)
    assert request.intent == "order"
    labels = {c.code for c in task.meta.security}
    assert {"R", "42CFRPart2", "ETH", "NORDSCLCD"} <= labels
    # The free-text reason stays on the platform until consent gating exists.
    assert "Synthetic member asks" not in json.dumps(fhir.body)


def test_referral_is_readable_and_listed_through_the_gateway(
    partner: httpx.Client, seed: Seed
) -> None:
    member = str(uuid.uuid4())
    created = [
        partner.post("/v1/referrals", json=synthetic_referral(member, seed)).json()["referral_id"]
        for _ in range(3)
    ]
    fetched = partner.get(f"/v1/referrals/{created[0]}")
    assert fetched.status_code == 200
    assert fetched.json()["subject_member_id"] == member
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"subject_member_id": member, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = partner.get("/v1/referrals", params=params).json()
        seen += [item["referral_id"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert sorted(seen) == sorted(created)


def test_bad_input_is_refused_with_a_problem_and_writes_nothing(
    partner: httpx.Client, seed: Seed
) -> None:
    member = str(uuid.uuid4())
    body = synthetic_referral(member, seed) | {"priority": "whenever"}
    response = partner.post("/v1/referrals", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    listed = partner.get("/v1/referrals", params={"subject_member_id": member}).json()
    assert listed["items"] == []


def test_the_clinic_works_the_referral_and_the_ehr_sees_each_status(
    platform: RunningPlatform, partner: httpx.Client, seed: Seed
) -> None:
    from peerbridge_devstack.demo import client_token

    ehr_token = client_token(partner, seed, "ehr")
    clinic = {"Authorization": f"Bearer {ehr_token}"}
    consumer = EhrConsumer(platform.kafka_bootstrap)
    try:
        created = partner.post("/v1/referrals", json=synthetic_referral(str(uuid.uuid4()), seed))
        referral_id = created.json()["referral_id"]
        path = f"/v1/referrals/{referral_id}/status"
        not_ours = partner.post(path, json={"status": "accepted"})
        accepted = partner.post(path, json={"status": "accepted"}, headers=clinic)
        started = partner.post(path, json={"status": "in-progress"}, headers=clinic)
        completed = partner.post(
            path, json={"status": "completed", "outcome": "Seen; follow-up booked."}, headers=clinic
        )

        def completed_arrived(items: list[Received]) -> bool:
            return "completed" in statuses(items, referral_id)

        received = consumer.collect(completed_arrived, 60)
    finally:
        consumer.close()

    assert not_ours.status_code == 403
    assert [r.status_code for r in (accepted, started, completed)] == [200, 200, 200]
    assert statuses(received, referral_id) == ["requested", "accepted", "in-progress", "completed"]
    changes = [
        i.body
        for i in received
        if i.key == referral_id and i.ce_type == "peerbridge.referrals.v1.ReferralStatusChanged"
    ]
    assert "Seen; follow-up booked." not in repr(changes)  # codes only on the events topic


def statuses(items: list[Received], referral_id: str) -> list[str]:
    """The Task statuses of the FHIR views of one referral, in the order they arrived."""
    found = []
    for item in items:
        if item.key == referral_id and item.topic == FHIR_TOPIC and isinstance(item.body, dict):
            for entry in item.body.get("entry", []):
                if entry["resource"]["resourceType"] == "Task":
                    found.append(entry["resource"]["status"])
    return found
