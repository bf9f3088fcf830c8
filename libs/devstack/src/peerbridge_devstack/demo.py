"""`make demo`: a partner app sends synthetic referrals; an EHR shows what it receives.

Needs the platform running (`make run`). Every person here is synthetic.
"""

from __future__ import annotations

import os
import sys
import uuid
from typing import Any

import httpx

from .ehr import FHIR_TOPIC, EhrConsumer, Received

SYNTHETIC_REFERRALS: list[dict[str, Any]] = [
    {
        "subject_member_id": "member-demo-ava",
        "direction": "peer_support_to_clinic",
        "category": "medication_for_opioid_use_disorder",
        "priority": "urgent",
        "reason": "Asked for help starting buprenorphine after a peer session.",
        "requester": {
            "kind": "peer_support_program",
            "organization_id": "program-harbour",
            "display_name": "Harbour Peer Recovery (demo)",
        },
        "recipient": {
            "kind": "clinic",
            "organization_id": "clinic-northside",
            "display_name": "Northside Health Clinic (demo)",
        },
    },
    {
        "subject_member_id": "member-demo-ben",
        "direction": "peer_support_to_clinic",
        "category": "mental_health_counselling",
        "priority": "routine",
        "reason": "Would like counselling alongside weekly group.",
        "requester": {
            "kind": "peer_support_program",
            "organization_id": "program-harbour",
            "display_name": "Harbour Peer Recovery (demo)",
        },
        "recipient": {
            "kind": "clinic",
            "organization_id": "clinic-northside",
            "display_name": "Northside Health Clinic (demo)",
        },
    },
    {
        "subject_member_id": "member-demo-cleo",
        "direction": "clinic_to_peer_support",
        "category": "peer_support",
        "priority": "routine",
        "reason": "Discharged from detox; wants a peer supporter.",
        "requester": {
            "kind": "clinic",
            "organization_id": "clinic-northside",
            "display_name": "Northside Health Clinic (demo)",
        },
        "recipient": {
            "kind": "peer_support_program",
            "organization_id": "program-harbour",
            "display_name": "Harbour Peer Recovery (demo)",
        },
    },
]


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
        return (
            f"    FHIR Bundle: Task status={task.get('status')} intent={task.get('intent')} "
            f"priority={task.get('priority')} owner={owner}\n"
            f"                 ServiceRequest: {code}; security labels {labels}"
        )
    return (
        f"    event {item.ce_type} (ce_id {item.ce_id}): {str(item.body).strip()!s:.200}".replace(
            "\n", ", "
        )
    )


def main() -> int:
    gateway = os.environ.get("PEERBRIDGE_GATEWAY_URL", "http://127.0.0.1:8000")
    bootstrap = os.environ.get("PEERBRIDGE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    try:
        httpx.get(f"{gateway}/readyz", timeout=3).raise_for_status()
    except httpx.HTTPError as exc:
        print(
            f"The gateway at {gateway} is not ready ({exc}). Start the platform with "
            "`make run` in another terminal, then run `make demo` again.",
            file=sys.stderr,
        )
        return 1
    ehr = EhrConsumer(bootstrap)
    created: list[str] = []
    with httpx.Client(base_url=gateway, timeout=10) as client:
        for body in SYNTHETIC_REFERRALS:
            response = client.post(
                "/v1/referrals", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
            )
            if response.status_code != 201:
                print(
                    f"POST /v1/referrals answered {response.status_code}: {response.text}",
                    file=sys.stderr,
                )
                return 1
            referral = response.json()
            created.append(referral["referral_id"])
            print(
                f"partner app created referral {referral['referral_id']} "
                f"({body['category']}, {body['priority']}) -> status {referral['status']}"
            )
    print("\nwhat a clinic EHR receives from Kafka:")
    wanted = set(created)

    def all_arrived(items: list[Received]) -> bool:
        return {(i.key, i.topic) for i in items if i.key in wanted} >= {
            (key, topic)
            for key in wanted
            for topic in ("peerbridge.referrals.events.v1", FHIR_TOPIC)
        }

    try:
        received = ehr.collect(all_arrived, timeout_s=30)
    finally:
        ehr.close()
    for key in created:
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
