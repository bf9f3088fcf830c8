"""Referral notes through the real gateway and the real referrals service: the program's
partner app refers a member and writes a note; the clinic reads it withheld until the
member consents to disclose substance use treatment information, then in full (and the
member's accounting of disclosures shows it); the member reads only what was shared."""

from __future__ import annotations

import httpx
import pytest

from ..conftest import TEST_PROGRAM, synthetic_consent, synthetic_referral
from .conftest import TokenIssuer
from .test_consents import RECIPIENT_CLINIC, clinician, member
from .test_fhir_inbound import ehr_client

pytestmark = pytest.mark.integration

MEMBER = "member-test-noted"
NOTE = "Synthetic note: talked about cravings after work; agreed to call the clinic."


async def test_the_clinic_reads_the_programs_note_only_under_consent(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    program = ehr_client(token_issuer, TEST_PROGRAM)
    clinic = clinician(token_issuer, RECIPIENT_CLINIC)
    created = await anonymous.post(
        "/v1/referrals", json=synthetic_referral(MEMBER), headers=program
    )
    assert created.status_code == 201, created.text
    notes = f"/v1/referrals/{created.json()['referral_id']}/notes"

    added = await anonymous.post(
        notes, json={"text": f"  {NOTE} "}, headers=program | {"Idempotency-Key": "note-1"}
    )
    shared = await anonymous.post(
        notes, json={"text": "Shared synthetic note.", "shared_with_member": True}, headers=program
    )
    assert added.status_code == 201, added.text
    assert shared.status_code == 201, shared.text
    assert added.json()["text"] == NOTE
    assert added.json()["author_side"] == "peer_support_program"

    withheld = await anonymous.get(notes, headers=clinic)
    assert withheld.status_code == 200, withheld.text
    assert [n["withheld"] for n in withheld.json()["items"]] == [True, True]
    assert all(n["text"] is None for n in withheld.json()["items"])
    assert "substance_use_treatment" in withheld.json()["items"][0]["withheld_reason"]

    consent = synthetic_consent(MEMBER, categories=["substance_use_treatment"])
    consented = await anonymous.post(
        "/v1/consents", json=consent, headers=member(token_issuer, MEMBER)
    )
    assert consented.status_code == 201, consented.text
    disclosed = await anonymous.get(notes, headers=clinic)
    assert {n["text"] for n in disclosed.json()["items"]} == {NOTE, "Shared synthetic note."}

    log = await anonymous.get(
        "/v1/disclosures",
        params={"subject_member_id": MEMBER},
        headers=member(token_issuer, MEMBER),
    )
    assert log.status_code == 200, log.text
    categories = [e["category"] for e in log.json()["items"]]
    assert "substance_use_treatment" in categories
    assert all(NOTE not in e["description"] for e in log.json()["items"])

    as_member = await anonymous.get(notes, headers=member(token_issuer, MEMBER))
    assert as_member.status_code == 200, as_member.text
    assert sorted(n["withheld"] for n in as_member.json()["items"]) == [False, True]


async def test_refusals_are_problems(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    program = ehr_client(token_issuer, TEST_PROGRAM)
    created = await anonymous.post(
        "/v1/referrals", json=synthetic_referral("member-test-noted-2"), headers=program
    )
    notes = f"/v1/referrals/{created.json()['referral_id']}/notes"

    empty = await anonymous.post(notes, json={"text": "   "}, headers=program)
    too_long = await anonymous.post(notes, json={"text": "x" * 8001}, headers=program)
    stranger = await anonymous.get(notes, headers=clinician(token_issuer, "clinic-test-other"))
    as_member = await anonymous.post(
        notes, json={"text": NOTE}, headers=member(token_issuer, "member-test-noted-2")
    )

    assert empty.status_code == 400, empty.text
    assert empty.json()["errors"] == [{"field": "text", "detail": "is required"}]
    assert too_long.status_code == 400, too_long.text
    assert stranger.status_code == 404, stranger.text
    # A member holds no referrals.write: the gateway refuses before the service.
    assert as_member.status_code == 403, as_member.text
    assert NOTE not in as_member.text
