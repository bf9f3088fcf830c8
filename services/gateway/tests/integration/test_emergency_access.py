"""The consent gate on a clinician's reads and break-the-glass (42 CFR 2.51) through the real
gateway and the real referrals service: the recipient clinic reads a program's referral
redacted (with why) until the member consents, then whole; a clinician breaks the glass and
the program's coordinator lists and reviews the disclosure once."""

from __future__ import annotations

import uuid

import httpx
import pytest

from peerbridge_platform.auth import Role
from peerbridge_platform.auth.scopes import (
    REFERRALS_EMERGENCY,
    REFERRALS_READ,
    REFERRALS_WRITE,
)

from ..conftest import OTHER_CLINIC, PROBLEM, TEST_PROGRAM, synthetic_consent, synthetic_referral
from .conftest import TokenIssuer
from .test_consents import RECIPIENT_CLINIC, clinician, member
from .test_fhir_inbound import ehr_client

pytestmark = pytest.mark.integration

NATURE = "Synthetic: unresponsive on arrival, suspected opioid overdose."


def emergency_clinician(issuer: TokenIssuer, organization: str) -> dict[str, str]:
    return issuer.bearer(
        subject=f"person-test-er-{organization}",
        roles=[Role.CLINICIAN],
        organization_id=organization,
        scopes=[REFERRALS_READ, REFERRALS_WRITE, REFERRALS_EMERGENCY],
    )


def coordinator(issuer: TokenIssuer) -> dict[str, str]:
    return issuer.bearer(
        subject="person-test-coordinator",
        roles=[Role.COORDINATOR],
        organization_id=TEST_PROGRAM,
        scopes=[REFERRALS_READ, REFERRALS_WRITE],
    )


def idempotent(headers: dict[str, str]) -> dict[str, str]:
    return headers | {"Idempotency-Key": str(uuid.uuid4())}


async def refer(http: httpx.AsyncClient, issuer: TokenIssuer, member_id: str) -> str:
    created = await http.post(
        "/v1/referrals",
        json=synthetic_referral(member_id),
        headers=idempotent(ehr_client(issuer, TEST_PROGRAM)),
    )
    assert created.status_code == 201, created.text
    return str(created.json()["referral_id"])


async def test_the_clinic_reads_it_redacted_until_the_member_consents(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    member_id = f"member-test-{uuid.uuid4().hex[:8]}"
    referral_id = await refer(anonymous, token_issuer, member_id)
    reader = clinician(token_issuer, RECIPIENT_CLINIC)

    redacted = await anonymous.get(f"/v1/referrals/{referral_id}", headers=reader)
    listed = await anonymous.get("/v1/referrals", headers=reader)

    assert redacted.status_code == 200, redacted.text
    body = redacted.json()
    assert body["disclosure"]["view"] == "redacted"
    assert body["disclosure"]["reason"].startswith("no active consent")
    assert (body["subject_member_id"], body["reason"], body["category"]) == ("", "", None)
    assert body["status"] == "requested"
    [item] = [i for i in listed.json()["items"] if i["referral_id"] == referral_id]
    assert item["disclosure"]["view"] == "redacted"

    consented = await anonymous.post(
        "/v1/consents",
        json=synthetic_consent(member_id),
        headers=idempotent(member(token_issuer, member_id)),
    )
    assert consented.status_code == 201, consented.text
    whole = (await anonymous.get(f"/v1/referrals/{referral_id}", headers=reader)).json()
    assert whole["disclosure"]["view"] == "full"
    assert (whole["subject_member_id"], whole["category"]) == (
        member_id,
        "medication_for_opioid_use_disorder",
    )
    own = await anonymous.get(
        f"/v1/referrals/{referral_id}", headers=ehr_client(token_issuer, TEST_PROGRAM)
    )
    # The requesting side's read discloses nothing: no marker.
    assert (own.json()["disclosure"], own.json()["reason"]) == (
        None,
        synthetic_referral()["reason"],
    )


async def test_a_clinician_breaks_the_glass_and_the_program_reviews_it(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    member_id = f"member-test-{uuid.uuid4().hex[:8]}"
    referral_id = await refer(anonymous, token_issuer, member_id)
    body = {"nature_of_emergency": NATURE, "recipient_facility": "Northside ED (test)"}

    opened = await anonymous.post(
        f"/v1/referrals/{referral_id}/emergency-access",
        json=body,
        headers=idempotent(emergency_clinician(token_issuer, RECIPIENT_CLINIC)),
    )

    assert opened.status_code == 200, opened.text
    answer = opened.json()
    assert answer["referral"]["subject_member_id"] == member_id
    assert answer["referral"]["reason"] == synthetic_referral()["reason"]
    record = answer["emergency_disclosure"]
    assert (record["recipient_organization_id"], record["disclosing_organization_id"]) == (
        RECIPIENT_CLINIC,
        TEST_PROGRAM,
    )
    assert (record["nature_of_emergency"], record["reviewed"]) == (NATURE, False)

    accounting = await anonymous.get(
        "/v1/disclosures",
        params={"subject_member_id": member_id},
        headers=member(token_issuer, member_id),
    )
    assert [e["purpose"] for e in accounting.json()["items"]] == ["ETREAT"]

    reviewer = coordinator(token_issuer)
    pending = await anonymous.get(
        "/v1/emergency-disclosures",
        params={"organization_id": TEST_PROGRAM, "unreviewed_only": "true"},
        headers=reviewer,
    )
    assert pending.status_code == 200, pending.text
    ids = [r["emergency_disclosure_id"] for r in pending.json()["items"]]
    assert record["emergency_disclosure_id"] in ids

    path = f"/v1/emergency-disclosures/{record['emergency_disclosure_id']}/review"
    reviewed = await anonymous.post(
        path, json={"note": "Synthetic: bona fide emergency."}, headers=idempotent(reviewer)
    )
    again = await anonymous.post(path, json={"note": "Again"}, headers=idempotent(reviewer))

    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["reviewed"] is True
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith(PROBLEM)


async def test_others_are_refused_as_problems(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    referral_id = await refer(anonymous, token_issuer, f"member-test-{uuid.uuid4().hex[:8]}")
    path = f"/v1/referrals/{referral_id}/emergency-access"
    body = {"nature_of_emergency": NATURE}

    elsewhere = await anonymous.post(
        path, json=body, headers=idempotent(emergency_clinician(token_issuer, OTHER_CLINIC))
    )
    no_scope = await anonymous.post(
        path, json=body, headers=idempotent(clinician(token_issuer, RECIPIENT_CLINIC))
    )
    blank = await anonymous.post(
        path,
        json={"nature_of_emergency": "   "},
        headers=idempotent(emergency_clinician(token_issuer, RECIPIENT_CLINIC)),
    )
    nosy = await anonymous.get(
        "/v1/emergency-disclosures",
        params={"organization_id": TEST_PROGRAM},
        headers=emergency_clinician(token_issuer, RECIPIENT_CLINIC),
    )

    assert elsewhere.status_code == 404, elsewhere.text
    assert no_scope.status_code == 403, no_scope.text
    assert blank.status_code == 400, blank.text
    assert "nature_of_emergency" in blank.text
    for refused in (elsewhere, no_scope, blank):
        assert refused.headers["content-type"].startswith(PROBLEM)
    assert nosy.status_code == 200, nosy.text
    assert nosy.json() == {"items": [], "next_cursor": None}


async def test_the_routes_are_in_the_openapi_document(anonymous: httpx.AsyncClient) -> None:
    paths = (await anonymous.get("/openapi.json")).json()["paths"]
    assert "post" in paths["/v1/referrals/{referral_id}/emergency-access"]
    assert "get" in paths["/v1/emergency-disclosures"]
    assert "post" in paths["/v1/emergency-disclosures/{emergency_disclosure_id}/review"]
