"""A clinic refers its patient by its own medical record number, through the whole platform
as `make run` starts it: identity enrols the member on the first order and links the same
member on the next; a client without `patients.link` cannot enrol anyone.

Every patient here is synthetic.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from peerbridge_devstack.demo import bearer, client_token
from peerbridge_devstack.launch import RunningPlatform
from peerbridge_devstack.seed import CLINIC_NAME, Seed, password_token

pytestmark = pytest.mark.e2e

FHIR_JSON = {"Content-Type": "application/fhir+json"}
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.42"


def an_order(seed: Seed, mrn: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "urn:test:e2e-orders", "value": uuid.uuid4().hex}],
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "contained": [
            {
                "resourceType": "Patient",
                "id": "p1",
                "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
                "name": [{"family": "Synthetic", "given": ["Sam"]}],
                "birthDate": "1979-11-30",
            }
        ],
        "subject": {"reference": "#p1"},
        "code": {
            "coding": [
                {"system": "urn:peerbridge:codesystem:referral-category", "code": "peer-support"}
            ]
        },
        "requester": {
            "type": "Organization",
            "identifier": {"system": "urn:peerbridge:organization", "value": seed.clinic_id},
            "display": CLINIC_NAME,
        },
        "performer": [
            {
                "type": "Organization",
                "identifier": {"system": "urn:peerbridge:organization", "value": seed.program_id},
            }
        ],
        "reasonCode": [{"text": "Synthetic patient leaving detox asks for a peer supporter."}],
    }


def test_a_clinics_patient_is_enrolled_once_then_linked(
    platform: RunningPlatform, gateway: httpx.Client, seed: Seed
) -> None:
    clinician = seed.people["clinician"]
    token = password_token(seed.gateway_url, clinician.username, clinician.password)
    headers = FHIR_JSON | bearer(token["access_token"])
    mrn = f"MRN-{uuid.uuid4().hex[:10]}"

    first = gateway.post("/v1/fhir/ServiceRequest", json=an_order(seed, mrn), headers=headers)
    second = gateway.post("/v1/fhir/ServiceRequest", json=an_order(seed, mrn), headers=headers)

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert first.json()["patient_resolution"] == "enrolled"
    assert second.json()["patient_resolution"] == "linked"
    assert second.json()["subject_member_id"] == first.json()["subject_member_id"]
    assert str(uuid.UUID(first.json()["subject_member_id"])) == first.json()["subject_member_id"]
    assert first.headers["location"].endswith(f"/v1/referrals/{first.json()['referral_id']}")


def test_an_ehr_client_without_patients_link_cannot_enrol(
    platform: RunningPlatform, gateway: httpx.Client, seed: Seed
) -> None:
    token = client_token(gateway, seed, "ehr")
    refused = gateway.post(
        "/v1/fhir/ServiceRequest",
        json=an_order(seed, f"MRN-{uuid.uuid4().hex[:10]}"),
        headers=FHIR_JSON | bearer(token),
    )

    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
