"""`POST /v1/fhir/ServiceRequest`: a clinic's EHR refers a patient to peer support in FHIR."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from peerbridge_gateway.clients.in_memory import InMemoryReferrals
from peerbridge_gateway.clients.referrals import Category, Direction, PartyKind, Priority

from ..conftest import FHIR_JSON, ORDER, PROBLEM


def order(**changes: Any) -> bytes:
    body = copy.deepcopy(ORDER) | changes
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


async def test_a_service_request_becomes_a_referral_to_the_program(
    client: httpx.AsyncClient, referrals: InMemoryReferrals
) -> None:
    created = await client.post("/v1/fhir/ServiceRequest", content=order(), headers=FHIR_JSON)

    assert created.status_code == 201, created.text
    (referral,) = referrals.referrals
    assert created.headers["location"].endswith(f"/v1/referrals/{referral.referral_id}")
    assert referral.direction is Direction.CLINIC_TO_PEER_SUPPORT
    assert (referral.category, referral.priority) == (Category.PEER_SUPPORT, Priority.URGENT)
    assert referral.subject_member_id == "member-test-cleo"
    assert (referral.requester.kind, referral.requester.organization_id) == (
        PartyKind.CLINIC,
        "clinic-test-northside",
    )
    assert referral.requester.display_name == "Northside Health Clinic (test)"
    assert referral.recipient.organization_id == "program-test-harbour"
    assert referral.reason == "Discharged from detox; wants a peer supporter."


async def test_the_same_order_sent_again_is_the_same_referral(
    client: httpx.AsyncClient, referrals: InMemoryReferrals
) -> None:
    first = await client.post("/v1/fhir/ServiceRequest", content=order(), headers=FHIR_JSON)
    again = await client.post("/v1/fhir/ServiceRequest", content=order(), headers=FHIR_JSON)
    other = await client.post(
        "/v1/fhir/ServiceRequest",
        content=order(identifier=[{"system": "urn:oid:2.16.840.1.113883.3.9999", "value": "2"}]),
        headers=FHIR_JSON,
    )

    assert first.json()["referral_id"] == again.json()["referral_id"]
    assert other.json()["referral_id"] != first.json()["referral_id"]
    assert len(referrals.referrals) == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "draft"}, "status"),
        ({"intent": "plan"}, "intent"),
        ({"subject": {"reference": "Patient/123"}}, "subject.identifier"),
        ({"code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}}, "code.coding"),
        ({"performer": None}, "performer[0].identifier"),
        ({"reasonCode": None}, "reasonCode[0].text"),
        ({"priority": "whenever"}, "priority"),
    ],
    ids=[
        "status",
        "intent",
        "patient reference",
        "unknown code",
        "no performer",
        "no reason",
        "priority",
    ],
)
async def test_what_cannot_be_translated_is_422_by_fhir_path_and_creates_nothing(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, changes: dict[str, Any], field: str
) -> None:
    refused = await client.post(
        "/v1/fhir/ServiceRequest", content=order(**changes), headers=FHIR_JSON
    )

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert field in [error["field"] for error in refused.json()["errors"]]
    assert referrals.referrals == []


async def test_other_resources_and_broken_json_are_refused(
    client: httpx.AsyncClient, referrals: InMemoryReferrals
) -> None:
    patient = await client.post(
        "/v1/fhir/ServiceRequest",
        content=json.dumps({"resourceType": "Patient", "id": "x"}).encode(),
        headers=FHIR_JSON,
    )
    broken = await client.post("/v1/fhir/ServiceRequest", content=b"{", headers=FHIR_JSON)
    text = await client.post(
        "/v1/fhir/ServiceRequest", content=order(), headers={"Content-Type": "text/plain"}
    )

    assert patient.status_code == 422
    assert broken.status_code == 422
    assert text.status_code == 415
    assert referrals.referrals == []
