"""`POST /v1/fhir/ServiceRequest` whose subject is the clinic's patient: by the clinic's own
identifier or a contained Patient, resolved to a member by identity (a fake here).

Every patient here is synthetic.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import grpc
import httpx
import pytest

from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_gateway.clients.in_memory import InMemoryReferrals
from peerbridge_gateway.clients.in_memory_patients import InMemoryPatients
from peerbridge_platform.errors import FieldViolation

from ..conftest import FHIR_JSON, ORDER, PROBLEM

MRN = "urn:oid:2.16.840.1.113883.3.9999.1"
PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [{"system": MRN, "value": "MRN-0001"}],
    "name": [{"family": "Synthetic", "given": ["Robin", "Ash"]}],
    "birthDate": "1990-05-17",
    "communication": [
        {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "fr"}]}},
        {
            "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es-MX"}]},
            "preferred": True,
        },
    ],
}


def order(**changes: Any) -> bytes:
    body = copy.deepcopy(ORDER) | changes
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def with_contained(patient: dict[str, Any] = PATIENT, reference: str = "#p1") -> bytes:
    return order(contained=[patient], subject={"reference": reference})


async def test_a_contained_patient_is_enrolled_and_the_referral_names_the_member(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, patients: InMemoryPatients
) -> None:
    created = await client.post(
        "/v1/fhir/ServiceRequest", content=with_contained(), headers=FHIR_JSON
    )

    assert created.status_code == 201, created.text
    (query,) = patients.queries
    assert (query.system, query.value, query.program_id) == (
        MRN,
        "MRN-0001",
        "program-test-harbour",
    )
    # The first given name, the birth date and the preferred language; no family name.
    assert (query.given_name, query.birth_date, query.language) == (
        "Robin",
        date(1990, 5, 17),
        "es-MX",
    )
    (referral,) = referrals.referrals
    assert referral.subject_member_id == patients.links[(MRN, "MRN-0001")]
    assert created.json()["subject_member_id"] == referral.subject_member_id
    assert created.json()["patient_resolution"] == "enrolled"


async def test_the_clinics_identifier_as_subject_links_a_known_patient(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, patients: InMemoryPatients
) -> None:
    patients.links[(MRN, "MRN-0002")] = "member-test-known"
    sent = await client.post(
        "/v1/fhir/ServiceRequest",
        content=order(subject={"identifier": {"system": MRN, "value": "MRN-0002"}}),
        headers=FHIR_JSON,
    )

    assert sent.status_code == 201, sent.text
    assert sent.json()["patient_resolution"] == "linked"
    assert referrals.referrals[0].subject_member_id == "member-test-known"
    assert (patients.queries[0].given_name, patients.queries[0].birth_date) == ("", None)


async def test_a_member_named_directly_asks_identity_nothing(
    client: httpx.AsyncClient, patients: InMemoryPatients
) -> None:
    member_in_contained = copy.deepcopy(PATIENT) | {
        "identifier": [{"system": "urn:peerbridge:member", "value": "member-test-cleo"}]
    }
    direct = await client.post("/v1/fhir/ServiceRequest", content=order(), headers=FHIR_JSON)
    contained = await client.post(
        "/v1/fhir/ServiceRequest",
        content=with_contained(member_in_contained),
        headers={**FHIR_JSON, "Idempotency-Key": "contained-member"},
    )

    assert direct.status_code == contained.status_code == 201
    assert direct.json()["patient_resolution"] is None
    assert contained.json()["subject_member_id"] == "member-test-cleo"
    assert patients.queries == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (with_contained(reference="#nobody"), "subject.reference"),
        (with_contained(copy.deepcopy(PATIENT) | {"identifier": []}), "contained[0].identifier"),
        (with_contained(copy.deepcopy(PATIENT) | {"birthDate": "1990"}), "contained[0].birthDate"),
        (order(subject={"display": "Robin Synthetic"}), "subject.identifier"),
    ],
    ids=["no such contained", "no identifier", "partial birth date", "name only"],
)
async def test_a_patient_that_cannot_be_named_is_422_and_nothing_happens(
    client: httpx.AsyncClient,
    referrals: InMemoryReferrals,
    patients: InMemoryPatients,
    body: bytes,
    field: str,
) -> None:
    refused = await client.post("/v1/fhir/ServiceRequest", content=body, headers=FHIR_JSON)

    assert refused.status_code == 422, refused.text
    assert field in [e["field"] for e in refused.json()["errors"]]
    assert (referrals.referrals, patients.queries) == ([], [])


async def test_identitys_refusals_name_the_fhir_paths_and_create_no_referral(
    client: httpx.AsyncClient, referrals: InMemoryReferrals, patients: InMemoryPatients
) -> None:
    patients.failures = [
        ServiceError(
            "identity",
            grpc.StatusCode.INVALID_ARGUMENT,
            "the patient is not valid",
            [
                FieldViolation("identifier.system", "must be an absolute URI"),
                FieldViolation("demographics.birth_date", "the member must be at least 18"),
                FieldViolation("program_id", "must be a UUID"),
            ],
        ),
        ServiceError(
            "identity",
            grpc.StatusCode.PERMISSION_DENIED,
            "the identifier system belongs to another organization",
        ),
    ]

    invalid = await client.post(
        "/v1/fhir/ServiceRequest", content=with_contained(), headers=FHIR_JSON
    )
    denied = await client.post(
        "/v1/fhir/ServiceRequest",
        content=with_contained(),
        headers={**FHIR_JSON, "Idempotency-Key": "second-try"},
    )

    assert invalid.status_code == 400, invalid.text
    assert invalid.headers["content-type"] == PROBLEM
    assert [e["field"] for e in invalid.json()["errors"]] == [
        "contained[0].identifier[0].system",
        "contained[0].birthDate",
        "performer[0].identifier",
    ]
    assert denied.status_code == 403
    assert "another organization" in denied.json()["detail"]
    assert referrals.referrals == []


async def test_the_openapi_document_shows_the_resolution(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]

    assert "patient_resolution" in schemas["InboundReferralOut"]["properties"]
