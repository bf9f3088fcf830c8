"""The accounting of disclosures through the real gateway and the real referrals service:
the member consents, the program's partner app refers them to the clinic, and the member
lists the one disclosure naming the clinic; another member lists nothing."""

from __future__ import annotations

import httpx
import pytest

from ..conftest import TEST_PROGRAM, synthetic_consent, synthetic_referral
from .conftest import TokenIssuer
from .test_consents import RECIPIENT_CLINIC, member
from .test_fhir_inbound import ehr_client

pytestmark = pytest.mark.integration

MEMBER = "member-test-disclosed"


async def test_the_member_lists_the_disclosure_to_the_clinic(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    consented = await anonymous.post(
        "/v1/consents", json=synthetic_consent(MEMBER), headers=member(token_issuer, MEMBER)
    )
    assert consented.status_code == 201, consented.text
    created = await anonymous.post(
        "/v1/referrals",
        json=synthetic_referral(MEMBER),
        headers=ehr_client(token_issuer, TEST_PROGRAM),
    )
    assert created.status_code == 201, created.text

    listed = await anonymous.get(
        "/v1/disclosures",
        params={"subject_member_id": MEMBER},
        headers=member(token_issuer, MEMBER),
    )
    nosy = await anonymous.get(
        "/v1/disclosures",
        params={"subject_member_id": MEMBER},
        headers=member(token_issuer, "member-test-nosy"),
    )

    assert listed.status_code == 200, listed.text
    [entry] = listed.json()["items"]
    assert entry["recipient_organization_id"] == RECIPIENT_CLINIC
    assert entry["referral_id"] == created.json()["referral_id"]
    assert entry["consent_id"] == consented.json()["consent_id"]
    assert (entry["purpose"], entry["category"]) == ("TREAT", "referral_details")
    assert entry["description"]
    assert entry["disclosed_at"]
    assert listed.json()["next_cursor"] is None
    assert nosy.status_code == 200, nosy.text
    assert nosy.json() == {"items": [], "next_cursor": None}
