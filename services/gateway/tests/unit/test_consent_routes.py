"""`/v1/consents` in process over the in-memory consents port: translation to and from JSON,
what the gateway refuses itself (422, scopes), problems from the service, idempotent replay.
The 2.31 rules and who sees which consent are the referrals service's, tested there and
through the gateway in tests/integration/test_consents.py."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest

from peerbridge.referrals.v1 import referrals_consent_pb2 as consent_pb2
from peerbridge_gateway.clients.consents import (
    CaptureMethod,
    ConsentStatus,
    InformationCategory,
    Purpose,
    RecipientClass,
)
from peerbridge_gateway.clients.consents_grpc import (
    consent_from_proto,
    record_field_name,
    terms_from_proto,
    terms_to_proto,
)
from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_gateway.clients.in_memory_consents import InMemoryConsents
from peerbridge_gateway.schemas.consents import ConsentTermsBody
from peerbridge_platform.auth import Role
from peerbridge_platform.auth.scopes import CONSENTS_WRITE, REFERRALS_READ, REFERRALS_WRITE
from peerbridge_platform.errors import FieldViolation

from ..conftest import PROBLEM, synthetic_consent
from .conftest import Mint


async def test_record_read_list_and_revoke_a_consent(
    client: httpx.AsyncClient, consents: InMemoryConsents
) -> None:
    body = synthetic_consent(member="member-test-ava", recipient_classes=["treating_providers"])

    created = await client.post("/v1/consents", json=body)
    assert created.status_code == 201, created.text
    consent = created.json()
    assert created.headers["location"] == f"/v1/consents/{consent['consent_id']}"
    assert (consent["status"], consent["version"]) == ("active", 1)
    assert consent["recorded_by"] == "person:person-test-coordinator"
    assert consent["revoked_at"] is None
    # The terms come back as they were sent (times as UTC instants).
    terms = consent["terms"]
    for name in ("categories", "purposes", "recipient_classes", "recipient_organization_ids"):
        assert terms[name] == body[name]
    assert terms["capture_method"] == "signed_electronically"
    assert terms["witness_name"] is None
    stored = consents.consents[0].terms
    assert stored.categories == (InformationCategory.REFERRAL_DETAILS,)
    assert stored.valid_from is not None
    assert stored.valid_from.isoformat() == body["valid_from"]

    read = await client.get(created.headers["location"])
    listed = await client.get("/v1/consents", params={"subject_member_id": "member-test-ava"})
    revoked = await client.post(
        f"{created.headers['location']}/revoke", json={"reason": "Changed my mind."}
    )
    after = await client.get(created.headers["location"])

    assert read.json() == consent
    assert listed.json() == {"items": [consent], "next_cursor": None}
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["status"], revoked.json()["version"]) == ("revoked", 2)
    assert revoked.json()["revocation_reason"] == "Changed my mind."
    assert after.json() == revoked.json()


async def test_a_revocation_needs_no_body_fields(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/consents", json=synthetic_consent())
    revoked = await client.post(f"{created.headers['location']}/revoke", json={})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revocation_reason"] is None


async def test_the_list_pages_with_the_services_cursor(client: httpx.AsyncClient) -> None:
    member = "member-test-paged"
    for _ in range(3):
        await client.post("/v1/consents", json=synthetic_consent(member))

    first = await client.get("/v1/consents", params={"subject_member_id": member, "limit": 2})
    cursor = first.json()["next_cursor"]
    second = await client.get(
        "/v1/consents", params={"subject_member_id": member, "limit": 2, "cursor": cursor}
    )
    elsewhere = await client.get(
        "/v1/consents", params={"subject_member_id": "member-test-other", "cursor": cursor}
    )

    assert len(first.json()["items"]) == 2
    assert cursor
    assert len(second.json()["items"]) == 1
    assert second.json()["next_cursor"] is None
    ids = [c["consent_id"] for c in first.json()["items"] + second.json()["items"]]
    assert ids == sorted(ids, reverse=True)
    assert elsewhere.status_code == 400
    assert elsewhere.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"categories": ["everything"]}, "categories[0]"),
        ({"purposes": ["TREAT"]}, "purposes[0]"),
        ({"recipient_classes": ["anyone"]}, "recipient_classes[0]"),
        ({"capture_method": "telepathy"}, "capture_method"),
        ({"valid_from": "2026-01-05T09:00:00"}, "valid_from"),  # no offset
        ({"signed_at": "yesterday"}, "signed_at"),
        ({"consent_id": "00000000-0000-4000-9000-000000000009"}, "consent_id"),
        ({"status": "active"}, "status"),
    ],
)
async def test_bad_codes_times_and_unknown_fields_are_422(
    client: httpx.AsyncClient,
    consents: InMemoryConsents,
    changes: dict[str, Any],
    field: str,
) -> None:
    refused = await client.post("/v1/consents", json=synthetic_consent(**changes))

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert [e["field"] for e in refused.json()["errors"]] == [field]
    assert consents.record_calls == 0


async def test_list_and_revoke_refuse_bad_input_with_422(client: httpx.AsyncClient) -> None:
    no_member = await client.get("/v1/consents")
    unknown_parameter = await client.get(
        "/v1/consents", params={"subject_member_id": "member-test-x", "status": "active"}
    )
    too_many = await client.get(
        "/v1/consents", params={"subject_member_id": "member-test-x", "limit": 101}
    )
    long_reason = await client.post(
        "/v1/consents/00000000-0000-4000-9000-000000000001/revoke", json={"reason": "x" * 201}
    )
    extra = await client.post(
        "/v1/consents/00000000-0000-4000-9000-000000000001/revoke", json={"status": "revoked"}
    )

    assert [r.status_code for r in (no_member, unknown_parameter, too_many)] == [422] * 3
    assert (long_reason.status_code, extra.status_code) == (422, 422)
    assert long_reason.json()["errors"][0]["field"] == "reason"


async def test_the_services_answers_become_problems(
    client: httpx.AsyncClient, consents: InMemoryConsents
) -> None:
    consents.failures = [
        ServiceError(
            "referrals",
            grpc.StatusCode.INVALID_ARGUMENT,
            "the consent is not valid",
            [FieldViolation("revocation_instructions", "is required")],
        ),
        ServiceError("referrals", grpc.StatusCode.PERMISSION_DENIED, "not your consent"),
        ServiceError("referrals", grpc.StatusCode.NOT_FOUND, "consent not found"),
    ]

    invalid = await client.post("/v1/consents", json=synthetic_consent())
    denied = await client.post("/v1/consents", json=synthetic_consent())
    missing = await client.get("/v1/consents/00000000-0000-4000-9000-000000000404")

    assert invalid.status_code == 400
    assert invalid.json()["errors"] == [
        {"field": "revocation_instructions", "detail": "is required"}
    ]
    assert (denied.status_code, denied.json()["type"].split("/")[-1]) == (403, "forbidden")
    assert (missing.status_code, missing.json()["type"].split("/")[-1]) == (404, "not-found")
    assert missing.headers["content-type"] == PROBLEM


async def test_a_retry_with_the_same_key_replays_the_recorded_consent(
    client: httpx.AsyncClient, consents: InMemoryConsents
) -> None:
    body, key = synthetic_consent(), {"Idempotency-Key": "consent-retry-1"}

    first = await client.post("/v1/consents", json=body, headers=key)
    again = await client.post("/v1/consents", json=body, headers=key)
    other = await client.post("/v1/consents", json=synthetic_consent(), headers=key)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 409
    assert consents.record_calls == 1


async def test_reads_need_referrals_read(anonymous: httpx.AsyncClient, mint: Mint) -> None:
    writer = {"Authorization": f"Bearer {mint(scopes=[REFERRALS_WRITE])}"}

    read = await anonymous.get("/v1/consents/any", headers=writer)
    listed = await anonymous.get("/v1/consents?subject_member_id=m", headers=writer)
    nobody = await anonymous.get("/v1/consents/any")

    assert (read.status_code, listed.status_code, nobody.status_code) == (403, 403, 401)
    assert read.json()["type"].endswith("/insufficient-scope")


async def test_changes_need_the_consent_scope_which_members_hold(
    anonymous: httpx.AsyncClient, mint: Mint, consents: InMemoryConsents
) -> None:
    reader = {"Authorization": f"Bearer {mint(scopes=[REFERRALS_READ, REFERRALS_WRITE])}"}
    member = {
        "Authorization": "Bearer "
        + mint(
            scopes=[REFERRALS_READ, CONSENTS_WRITE],
            subject="member-test-mia",
            roles=[Role.MEMBER],
            organization_id=None,
        )
    }
    member_without_scope = {
        "Authorization": "Bearer "
        + mint(scopes=[], subject="member-test-mia", roles=[Role.MEMBER], organization_id=None)
    }

    staff = await anonymous.post("/v1/consents", json=synthetic_consent(), headers=reader)
    staff_revoke = await anonymous.post("/v1/consents/x/revoke", json={}, headers=reader)
    own = await anonymous.post(
        "/v1/consents", json=synthetic_consent("member-test-mia"), headers=member
    )
    revoked = await anonymous.post(f"{own.headers['location']}/revoke", json={}, headers=member)
    unscoped = await anonymous.post(
        "/v1/consents", json=synthetic_consent("member-test-mia"), headers=member_without_scope
    )

    assert (staff.status_code, staff_revoke.status_code) == (403, 403)
    assert f'scope="{CONSENTS_WRITE}"' in staff.headers["www-authenticate"]
    assert (own.status_code, revoked.status_code) == (201, 200)
    assert unscoped.status_code == 403
    assert f'scope="{CONSENTS_WRITE}"' in unscoped.headers["www-authenticate"]
    assert consents.record_calls == 1


def test_terms_survive_protobuf_both_ways() -> None:
    terms = ConsentTermsBody.model_validate(
        synthetic_consent(
            recipient_classes=["treating_providers"],
            purposes=["treat", "coc", "caremgt", "hpaymt", "hoperat"],
            categories=["referral_details", "substance_use_treatment", "contact_details"],
            capture_method="verbal_with_witness",
            witness_name="Synthetic Witness",
            expires_at=None,
            expiry_event="End of treatment at the clinic",
        )
    ).to_port()

    message = terms_to_proto(terms)

    assert message.capture_method == 3
    assert not message.HasField("expires_at")
    assert terms_from_proto(message) == terms
    assert terms.recipient_classes == (RecipientClass.TREATING_PROVIDERS,)
    assert terms.purposes[-1] is Purpose.HOPERAT
    assert terms.capture_method is CaptureMethod.VERBAL_WITH_WITNESS


def test_unset_elements_reach_the_service_unset() -> None:
    message = terms_to_proto(ConsentTermsBody().to_port())
    assert message.ByteSize() == 0
    consent = consent_from_proto(
        consent_pb2.Consent(consent_id="c-1", status=consent_pb2.CONSENT_STATUS_REVOKED, version=2)
    )
    assert consent.status is ConsentStatus.REVOKED
    assert (consent.revoked_at, consent.revoked_by, consent.terms.capture_method) == (
        None,
        None,
        None,
    )


def test_the_services_field_names_become_the_http_names() -> None:
    assert record_field_name("terms.categories[1]") == "categories[1]"
    assert record_field_name("terms.witness_name") == "witness_name"
    assert record_field_name("request_id") == "Idempotency-Key"
    assert record_field_name("terms") == "terms"
