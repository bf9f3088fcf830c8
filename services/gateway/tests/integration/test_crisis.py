"""Crisis escalation through the real gateway and the real referrals service: each route
of a raised flag with its 988 guidance, the unhandled list until acknowledgement, the
clinical contact and on-call routes, and refusals as problem details."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from peerbridge_platform.auth import Role
from peerbridge_platform.auth.scopes import (
    CONSENTS_WRITE,
    REFERRALS_READ,
    RISK_FLAGS_READ,
    RISK_FLAGS_WRITE,
)

from ..conftest import synthetic_consent
from .conftest import TokenIssuer

pytestmark = pytest.mark.integration

CLINIC = "clinic-test-northside"
CRISIS_SCOPES = [REFERRALS_READ, RISK_FLAGS_READ, RISK_FLAGS_WRITE]


def person(
    issuer: TokenIssuer, role: Role, program: str, subject: str | None = None
) -> dict[str, str]:
    return issuer.bearer(
        subject=subject or f"person-test-{role.value}",
        roles=[role],
        organization_id=program,
        scopes=[*CRISIS_SCOPES, CONSENTS_WRITE],
    )


def new_program() -> str:
    # Each test its own program: on-call entries and flag lists are per program.
    return f"program-test-{uuid.uuid4().hex[:10]}"


def flag_body(member: str, program: str, **changes: str) -> dict[str, str]:
    body = {
        "member_id": member,
        "program_id": program,
        "level": "imminent",
        "kind": "self_harm",
        "source": "peer_supporter",
    }
    body.update(changes)
    return body


def assert_guidance(body: dict[str, object]) -> None:
    guidance = body["guidance"]
    assert isinstance(guidance, dict)
    assert guidance["call_number"] == "988"
    assert guidance["text_number"] == "988"
    assert guidance["emergency_number"] == "911"
    assert "988lifeline.org" in guidance["chat_url"]


async def test_a_consented_clinic_gets_a_crisis_referral(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    program = new_program()
    member = f"member-{uuid.uuid4().hex[:10]}"
    as_member = person(token_issuer, Role.MEMBER, program, member)
    contact = await anonymous.put(
        f"/v1/members/{member}/clinical-contact",
        json={"program_id": program, "organization_id": CLINIC, "display_name": "Northside"},
        headers=as_member,
    )
    consent = await anonymous.post(
        "/v1/consents",
        json=synthetic_consent(member, disclosing_organization_id=program),
        headers=as_member,
    )
    supporter = person(token_issuer, Role.PEER_SUPPORTER, program)
    raised = await anonymous.post(
        "/v1/risk-flags",
        json=flag_body(member, program),
        headers=supporter | {"Idempotency-Key": f"flag-{member}"},
    )
    again = await anonymous.post(
        "/v1/risk-flags",
        json=flag_body(member, program),
        headers=supporter | {"Idempotency-Key": f"flag-{member}"},
    )
    read = await anonymous.get(
        f"/v1/members/{member}/clinical-contact",
        params={"program_id": program},
        headers=as_member,
    )

    assert contact.status_code == 200, contact.text
    assert consent.status_code == 201, consent.text
    assert raised.status_code == 201, raised.text
    flag = raised.json()["flag"]
    assert flag["route"] == "clinical_contact"
    assert flag["clinic_organization_id"] == CLINIC
    assert flag["referral_id"]
    assert flag["status"] == "unhandled"
    assert_guidance(raised.json())
    assert again.json()["flag"]["flag_id"] == flag["flag_id"]
    assert read.json()["organization_id"] == CLINIC
    referral = await anonymous.get(
        f"/v1/referrals/{flag['referral_id']}",
        headers=person(token_issuer, Role.COORDINATOR, program),
    )
    assert referral.status_code == 200, referral.text
    assert referral.json()["priority"] == "stat"
    assert referral.json()["category"] == "crisis_care"


async def test_on_call_supervisor_then_no_route_then_acknowledged(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    program = new_program()
    coordinator = person(token_issuer, Role.COORDINATOR, program)
    supervisor = person(token_issuer, Role.SUPERVISOR, program, "person-test-supervisor")
    member = f"member-{uuid.uuid4().hex[:10]}"

    no_route = await anonymous.post(
        "/v1/risk-flags",
        json=flag_body(member, program, source="check_in", level="elevated"),
        headers=person(token_issuer, Role.MEMBER, program, member),
    )
    unhandled = await anonymous.get(
        "/v1/risk-flags", params={"program_id": program, "unhandled": "true"}, headers=coordinator
    )
    now = datetime.now(UTC)
    on_call = await anonymous.put(
        f"/v1/programs/{program}/on-call",
        json={
            "supervisor_id": "person-test-supervisor",
            "start_time": (now - timedelta(minutes=1)).isoformat(),
            "end_time": (now + timedelta(hours=8)).isoformat(),
        },
        headers=coordinator,
    )
    routed = await anonymous.post(
        "/v1/risk-flags", json=flag_body(member, program), headers=coordinator
    )
    flag_id = no_route.json()["flag"]["flag_id"]
    acknowledged = await anonymous.post(
        f"/v1/risk-flags/{flag_id}/acknowledge", json={}, headers=supervisor
    )
    after = await anonymous.get(
        "/v1/risk-flags", params={"program_id": program, "unhandled": "true"}, headers=coordinator
    )

    assert no_route.status_code == 201, no_route.text
    assert no_route.json()["flag"]["route"] == "coordinators"
    assert_guidance(no_route.json())
    assert [f["flag_id"] for f in unhandled.json()["items"]] == [flag_id]
    assert on_call.status_code == 200, on_call.text
    assert routed.json()["flag"]["route"] == "on_call_supervisor"
    assert routed.json()["flag"]["assigned_supervisor_id"] == "person-test-supervisor"
    assert routed.json()["flag"]["referral_id"] is None
    assert_guidance(routed.json())
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged"
    assert flag_id not in [f["flag_id"] for f in after.json()["items"]]


async def test_refusals_are_problems_and_change_nothing(
    anonymous: httpx.AsyncClient, token_issuer: TokenIssuer
) -> None:
    program = new_program()
    other = person(token_issuer, Role.COORDINATOR, new_program())
    raised = await anonymous.post(
        "/v1/risk-flags",
        json=flag_body("member-test-x", program),
        headers=person(token_issuer, Role.PEER_SUPPORTER, program),
    )
    flag_id = raised.json()["flag"]["flag_id"]

    elsewhere = await anonymous.post(
        "/v1/risk-flags", json=flag_body("member-test-x", program), headers=other
    )
    bad_code = await anonymous.post(
        "/v1/risk-flags",
        json=flag_body("member-test-x", program, level="severe"),
        headers=person(token_issuer, Role.PEER_SUPPORTER, program),
    )
    not_theirs = await anonymous.post(
        f"/v1/risk-flags/{flag_id}/acknowledge", json={}, headers=other
    )
    no_scope = await anonymous.get(
        "/v1/risk-flags",
        params={"program_id": program},
        headers=token_issuer.bearer(organization_id=program, scopes=[REFERRALS_READ]),
    )
    listed = await anonymous.get(
        "/v1/risk-flags",
        params={"program_id": program, "unhandled": "true"},
        headers=person(token_issuer, Role.COORDINATOR, program),
    )

    assert elsewhere.status_code == 403
    assert elsewhere.headers["content-type"] == "application/problem+json"
    assert bad_code.status_code == 422
    assert not_theirs.status_code == 404
    assert no_scope.status_code == 403
    assert [f["flag_id"] for f in listed.json()["items"]] == [flag_id]


async def test_openapi_shows_the_crisis_routes(anonymous: httpx.AsyncClient) -> None:
    paths = (await anonymous.get("/openapi.json")).json()["paths"]
    assert {"post"} <= set(paths["/v1/risk-flags"])
    assert "/v1/risk-flags/{flag_id}/acknowledge" in paths
    assert {"put", "get"} <= set(paths["/v1/members/{member_id}/clinical-contact"])
    assert "put" in paths["/v1/programs/{program_id}/on-call"]
