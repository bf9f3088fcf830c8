"""Consents through the real gateway and the real referrals service: a member records and
reads their consent, recipients see only what names them, revocation shows at once, and a
missing 2.31 element is a 400 naming the field."""

from __future__ import annotations

import httpx
import pytest

from peerbridge_platform.auth import Role
from peerbridge_platform.auth.scopes import CONSENTS_WRITE, REFERRALS_READ, REFERRALS_WRITE

from ..conftest import OTHER_CLINIC, synthetic_consent
from .conftest import TokenIssuer

pytestmark = pytest.mark.integration

RECIPIENT_CLINIC = "clinic-test-northside"
MEMBER = "member-test-consenting"


def member(issuer: TokenIssuer, subject: str = MEMBER) -> dict[str, str]:
    # What a member's role carries (ROLE_SCOPES): no referrals.write, but consents.write.
    return issuer.bearer(
        subject=subject,
        roles=[Role.MEMBER],
        organization_id=None,
        scopes=[REFERRALS_READ, CONSENTS_WRITE],
    )


def clinician(issuer: TokenIssuer, organization: str) -> dict[str, str]:
    return issuer.bearer(
        subject=f"person-test-clinician-{organization}",
        roles=[Role.CLINICIAN],
        organization_id=organization,
        scopes=[REFERRALS_READ, REFERRALS_WRITE],
    )


async def test_a_member_records_their_consent_and_reads_it(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    body = synthetic_consent(MEMBER, purposes=["treat", "coc"])
    headers = member(token_issuer) | {"Idempotency-Key": "consent-member-1"}

    created = await anonymous.post("/v1/consents", json=body, headers=headers)
    again = await anonymous.post("/v1/consents", json=body, headers=headers)
    read = await anonymous.get(created.headers["location"], headers=member(token_issuer))
    listed = await anonymous.get(
        "/v1/consents", params={"subject_member_id": MEMBER}, headers=member(token_issuer)
    )

    assert created.status_code == 201, created.text
    consent = created.json()
    assert (consent["status"], consent["version"]) == ("active", 1)
    assert consent["terms"]["purposes"] == ["treat", "coc"]
    assert consent["terms"]["categories"] == ["referral_details"]
    assert consent["terms"]["capture_method"] == "signed_electronically"
    assert again.json()["consent_id"] == consent["consent_id"]
    assert read.status_code == 200, read.text
    assert read.json() == consent
    assert consent["consent_id"] in [c["consent_id"] for c in listed.json()["items"]]


async def test_the_named_clinic_reads_it_another_clinic_gets_404(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    program = token_issuer.bearer()  # a coordinator of the disclosing program
    created = await anonymous.post(
        "/v1/consents", json=synthetic_consent("member-test-named"), headers=program
    )
    location = created.headers["location"]

    named = await anonymous.get(location, headers=clinician(token_issuer, RECIPIENT_CLINIC))
    other = await anonymous.get(location, headers=clinician(token_issuer, OTHER_CLINIC))
    missing = await anonymous.get(
        "/v1/consents/00000000-0000-4000-8000-000000000404",
        headers=clinician(token_issuer, RECIPIENT_CLINIC),
    )
    recipient_revokes = await anonymous.post(
        f"{location}/revoke", json={}, headers=clinician(token_issuer, RECIPIENT_CLINIC)
    )

    assert created.status_code == 201, created.text
    assert named.status_code == 200, named.text
    assert named.json()["consent_id"] == created.json()["consent_id"]
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    # Someone else's consent and a missing one look alike.
    assert other.json()["type"] == missing.json()["type"]
    assert recipient_revokes.status_code == 403


async def test_revoke_then_read_shows_it_revoked(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    subject = "member-test-revoking"
    created = await anonymous.post(
        "/v1/consents", json=synthetic_consent(subject), headers=member(token_issuer, subject)
    )
    location = created.headers["location"]

    revoked = await anonymous.post(
        f"{location}/revoke",
        json={"reason": "Changed my mind."},
        headers=member(token_issuer, subject),
    )
    twice = await anonymous.post(f"{location}/revoke", json={}, headers=token_issuer.bearer())
    read = await anonymous.get(location, headers=member(token_issuer, subject))

    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["status"], revoked.json()["version"]) == ("revoked", 2)
    assert revoked.json()["revoked_at"] is not None
    assert revoked.json()["revocation_reason"] == "Changed my mind."
    assert twice.status_code == 200
    assert twice.json() == revoked.json()
    assert read.json() == revoked.json()


@pytest.mark.parametrize(
    ("missing", "field"),
    [
        ("revocation_instructions", "revocation_instructions"),
        ("purposes", "purposes"),
        ("signed_at", "signed_at"),
        ("subject_member_id", "subject_member_id"),
    ],
)
async def test_a_missing_2_31_element_is_a_400_naming_it(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer, missing: str, field: str
) -> None:
    body = synthetic_consent("member-test-incomplete")
    del body[missing]

    refused = await anonymous.post("/v1/consents", json=body, headers=token_issuer.bearer())
    listed = await anonymous.get(
        "/v1/consents",
        params={"subject_member_id": "member-test-incomplete"},
        headers=token_issuer.bearer(),
    )

    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in refused.json()["errors"]]
    assert listed.json()["items"] == []


async def test_verbal_consent_without_a_witness_and_a_bad_cursor_are_400(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    verbal = await anonymous.post(
        "/v1/consents",
        json=synthetic_consent(capture_method="verbal_with_witness"),
        headers=token_issuer.bearer(),
    )
    bad_cursor = await anonymous.get(
        "/v1/consents",
        params={"subject_member_id": MEMBER, "cursor": "not-a-cursor"},
        headers=token_issuer.bearer(),
    )

    assert verbal.status_code == 400
    assert [e["field"] for e in verbal.json()["errors"]] == ["witness_name"]
    assert bad_cursor.status_code == 400
    assert [e["field"] for e in bad_cursor.json()["errors"]] == ["cursor"]
