"""Status changes through the real gateway and the real referrals service: the service's
lifecycle rules (who sets what, from where), answered as HTTP problems."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from peerbridge_platform.auth import Role
from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE

from ..conftest import OTHER_CLINIC, ReferralBody
from .conftest import TokenIssuer

pytestmark = pytest.mark.integration

RECIPIENT_CLINIC = "clinic-test-northside"


def clinician(issuer: TokenIssuer, organization: str = RECIPIENT_CLINIC) -> dict[str, str]:
    return issuer.bearer(
        subject=f"person-test-clinician-{organization}",
        roles=[Role.CLINICIAN],
        organization_id=organization,
        scopes=[REFERRALS_READ, REFERRALS_WRITE],
    )


async def change(
    http: httpx.AsyncClient, referral_id: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await http.post(f"/v1/referrals/{referral_id}/status", json=body, headers=headers)


async def test_the_clinic_accepts_and_completes_and_the_program_sees_it(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer, referral_body: ReferralBody
) -> None:
    program = token_issuer.bearer()  # a coordinator of the requesting program
    created = await anonymous.post("/v1/referrals", json=referral_body(), headers=program)
    referral_id = created.json()["referral_id"]

    accepted = await change(
        anonymous, referral_id, clinician(token_issuer), status="accepted", expected_version=1
    )
    started = await change(anonymous, referral_id, clinician(token_issuer), status="in-progress")
    completed = await change(
        anonymous,
        referral_id,
        clinician(token_issuer),
        status="completed",
        outcome="Started treatment; follow-up booked.",
    )
    seen = await anonymous.get(f"/v1/referrals/{referral_id}", headers=program)

    assert [r.status_code for r in (accepted, started, completed)] == [200, 200, 200]
    assert [r.json()["version"] for r in (accepted, started, completed)] == [2, 3, 4]
    assert seen.json()["status"] == "completed"
    assert seen.json()["outcome"] == "Started treatment; follow-up booked."
    # No consent of the member: the clinic's answers show the status, not the member's detail.
    for answer in (accepted, completed):
        shown = answer.json()
        assert shown["disclosure"]["view"] == "redacted"
        assert shown["subject_member_id"] == ""
        assert shown["category"] is None
        assert shown["reason"] == ""


async def test_the_wrong_side_the_wrong_state_and_a_stale_version_are_refused(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer, referral_body: ReferralBody
) -> None:
    program = token_issuer.bearer()
    created = await anonymous.post("/v1/referrals", json=referral_body(), headers=program)
    referral_id = created.json()["referral_id"]

    requester_accepts = await change(anonymous, referral_id, program, status="accepted")
    without_reason = await change(
        anonymous, referral_id, clinician(token_issuer), status="rejected"
    )
    stranger = await change(
        anonymous, referral_id, clinician(token_issuer, OTHER_CLINIC), status="accepted"
    )
    cancelled = await change(
        anonymous, referral_id, program, status="cancelled", reason="Member moved away."
    )
    after_cancel = await change(anonymous, referral_id, clinician(token_issuer), status="accepted")
    stale = await change(
        anonymous, referral_id, program, status="entered-in-error", expected_version=1
    )
    final = await anonymous.get(f"/v1/referrals/{referral_id}", headers=program)

    assert requester_accepts.status_code == 403
    assert without_reason.status_code == 400
    assert without_reason.json()["errors"][0]["field"] == "reason"
    assert stranger.status_code == 404
    assert cancelled.status_code == 200
    assert after_cancel.status_code == 409
    assert after_cancel.json()["type"].endswith("/failed-precondition")
    assert stale.status_code == 409
    assert stale.json()["type"].endswith("/conflict")
    assert (final.json()["status"], final.json()["version"]) == ("cancelled", 2)
    assert final.json()["status_reason"] == "Member moved away."
