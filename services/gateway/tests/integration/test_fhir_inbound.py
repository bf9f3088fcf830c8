"""A clinic's EHR client refers a patient to peer support as a FHIR ServiceRequest, through
the real gateway and the real referrals service."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from peerbridge_platform.auth import Role
from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE

from ..conftest import FHIR_JSON, ORDER, OTHER_CLINIC
from .conftest import TokenIssuer

pytestmark = pytest.mark.integration

CLINIC = "clinic-test-northside"


def ehr_client(issuer: TokenIssuer, organization: str) -> dict[str, str]:
    client_id = f"client-test-ehr-{organization}"
    return issuer.bearer(
        subject=client_id,
        client_id=client_id,
        roles=[Role.PARTNER_CLIENT],
        organization_id=organization,
        scopes=[REFERRALS_READ, REFERRALS_WRITE],
    )


def an_order(member: str) -> bytes:
    body = dict(ORDER) | {
        "subject": {"identifier": {"system": "urn:peerbridge:member", "value": member}},
        "identifier": [{"system": "urn:test:orders", "value": uuid.uuid4().hex}],
    }
    return json.dumps(body).encode()


async def test_the_clinics_order_reaches_the_program(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    member = f"member-{uuid.uuid4().hex[:8]}"
    sent = await anonymous.post(
        "/v1/fhir/ServiceRequest",
        content=an_order(member),
        headers=FHIR_JSON | ehr_client(token_issuer, CLINIC),
    )
    program = token_issuer.bearer()  # a coordinator of the program the order names
    listed = await anonymous.get(
        "/v1/referrals", params={"subject_member_id": member}, headers=program
    )

    assert sent.status_code == 201, sent.text
    assert sent.json()["direction"] == "clinic_to_peer_support"
    assert [r["referral_id"] for r in listed.json()["items"]] == [sent.json()["referral_id"]]


async def test_a_clinic_cannot_send_in_another_clinics_name(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    refused = await anonymous.post(
        "/v1/fhir/ServiceRequest",
        content=an_order(f"member-{uuid.uuid4().hex[:8]}"),
        headers=FHIR_JSON | ehr_client(token_issuer, OTHER_CLINIC),
    )

    assert refused.status_code == 403, refused.text
