"""Shared test data for the gateway: synthetic people only, and access tokens signed as
identity signs them (with a test key set)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from peerbridge_platform.auth import KeySet, Role, SigningKey, issue_access_token
from peerbridge_platform.auth.scopes import CONSENTS_WRITE, REFERRALS_READ, REFERRALS_WRITE
from peerbridge_platform.crypto import new_key_entry

ReferralBody = Callable[..., dict[str, Any]]
# The synthetic referrals' requesting program, and a clinic that is never party to them.
TEST_PROGRAM = "program-test-harbour"
OTHER_CLINIC = "clinic-test-elsewhere"
PROBLEM = "application/problem+json"
REALM = 'Bearer realm="peerbridge"'


def synthetic_referral(member: str | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject_member_id": member or f"member-{uuid.uuid4().hex[:10]}",
        "direction": "peer_support_to_clinic",
        "category": "medication_for_opioid_use_disorder",
        "priority": "urgent",
        "reason": "Synthetic member asks for help starting treatment.",
        "requester": {
            "kind": "peer_support_program",
            "organization_id": "program-test-harbour",
            "display_name": "Harbour Peer Recovery (test)",
        },
        "recipient": {
            "kind": "clinic",
            "organization_id": "clinic-test-northside",
            "display_name": "Northside Health Clinic (test)",
        },
    }
    body.update(changes)
    return body


@pytest.fixture
def referral_body() -> ReferralBody:
    """`referral_body(member=None, **changes)`: a valid create body for a synthetic member."""
    return synthetic_referral


def synthetic_consent(member: str | None = None, **changes: Any) -> dict[str, Any]:
    """A complete 2.31 consent of a synthetic member: the test program may disclose referral
    details to the referrals' clinic, for treatment, for a year."""
    now = datetime.now(UTC).replace(microsecond=0)
    body: dict[str, Any] = {
        "subject_member_id": member or f"member-{uuid.uuid4().hex[:10]}",
        "disclosing_organization_id": TEST_PROGRAM,
        "categories": ["referral_details"],
        "recipient_organization_ids": ["clinic-test-northside"],
        "purposes": ["treat"],
        "revocation_instructions": "Tell your peer supporter; it stops future disclosures.",
        "valid_from": (now - timedelta(days=1)).isoformat(),
        "expires_at": (now + timedelta(days=365)).isoformat(),
        "capture_method": "signed_electronically",
        "signed_at": (now - timedelta(hours=1)).isoformat(),
    }
    body.update(changes)
    return body


@pytest.fixture(scope="session")
def encryption_keys() -> str:
    """A PEERBRIDGE_ENCRYPTION_KEYS value with one fresh key, for this test run only."""
    return new_key_entry("test1")


@dataclass
class TokenMinter:
    """Signs access tokens as identity would. By default the caller is a coordinator of the
    synthetic referrals' program, holding the referral scopes and consents.write, as its
    role does (ROLE_SCOPES)."""

    key_set: KeySet
    issuer: str
    audience: str

    def mint(
        self,
        scopes: Iterable[str] = (REFERRALS_READ, REFERRALS_WRITE, CONSENTS_WRITE),
        subject: str = "person-test-coordinator",
        roles: Iterable[Role] = (Role.COORDINATOR,),
        organization_id: str | None = TEST_PROGRAM,
        key: SigningKey | None = None,
        **overrides: Any,
    ) -> str:
        return issue_access_token(
            key or self.key_set.active,
            issuer=overrides.pop("issuer", self.issuer),
            audience=overrides.pop("audience", self.audience),
            subject=subject,
            roles=roles,
            scopes=scopes,
            organization_id=organization_id,
            **overrides,
        )

    def bearer(self, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(**claims)}"}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unb64(part: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def with_algorithm(token: str, alg: str, signature: str = "") -> str:
    """`token`'s claims under a header naming `alg` (e.g. "none"), with `signature`."""
    header, payload, _ = token.split(".")
    return f"{b64(unb64(header) | {'alg': alg})}.{payload}.{signature}"


def refused(response: httpx.Response, *, token_sent: bool = True) -> dict[str, Any]:
    """Assert a 401 problem with the RFC 6750 challenge; return the problem."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    expected = f'{REALM}, error="invalid_token"' if token_sent else REALM
    assert response.headers["www-authenticate"] == expected
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/unauthenticated")
    return body


# A clinic's order to the test program, as its EHR sends it (see schemas/fhir_service_request.py).
FHIR_JSON = {"Content-Type": "application/fhir+json"}
ORDER: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.9999", "value": "ORDER-1001"}],
    "status": "active",
    "intent": "order",
    "priority": "urgent",
    "code": {
        "coding": [
            {"system": "urn:peerbridge:codesystem:referral-category", "code": "peer-support"}
        ]
    },
    "subject": {"identifier": {"system": "urn:peerbridge:member", "value": "member-test-cleo"}},
    "requester": {
        "type": "Organization",
        "identifier": {"system": "urn:peerbridge:organization", "value": "clinic-test-northside"},
        "display": "Northside Health Clinic (test)",
    },
    "performer": [
        {
            "type": "Organization",
            "identifier": {
                "system": "urn:peerbridge:organization",
                "value": "program-test-harbour",
            },
        }
    ],
    "reasonCode": [{"text": "Discharged from detox; wants a peer supporter."}],
}
