"""Shared test data for the gateway: synthetic people only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from peerbridge_platform.crypto import new_key_entry

ReferralBody = Callable[..., dict[str, Any]]


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


@pytest.fixture(scope="session")
def encryption_keys() -> str:
    """A PEERBRIDGE_ENCRYPTION_KEYS value with one fresh key, for this test run only."""
    return new_key_entry("test1")
