"""Builders of synthetic consents for the consent tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from peerbridge_referrals.domain.commands import ConsentTermsInput
from peerbridge_referrals.domain.consent import Consent, ConsentStatus, validate_consent_terms

from .conftest import CLINIC, PROGRAM

MEMBER = "member-synthetic-001"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
REVOCATION_INSTRUCTIONS = (
    "You may revoke this consent at any time, in writing or in the app, "
    "by asking your coordinator or under Consents > Revoke."
)


def terms_input(**changes: Any) -> ConsentTermsInput:
    """A valid consent of the synthetic member: the program may disclose referral details
    to the Northside clinic for treatment, for a year."""
    base = ConsentTermsInput(
        subject_member_id=MEMBER,
        disclosing_organization_id=PROGRAM,
        categories=("referral_details",),
        recipient_organization_ids=(CLINIC,),
        purposes=("treat",),
        revocation_instructions=REVOCATION_INSTRUCTIONS,
        valid_from=NOW - timedelta(hours=1),
        expires_at=NOW + timedelta(days=365),
        capture_method="signed_electronically",
        signed_at=NOW - timedelta(hours=1),
    )
    return replace(base, **changes)


def synthetic_consent(consent_id: UUID | None = None, **changes: Any) -> Consent:
    return Consent(
        consent_id=consent_id or uuid4(),
        request_id=None,
        terms=validate_consent_terms(terms_input(**changes), now=NOW),
        status=ConsentStatus.ACTIVE,
        recorded_by=MEMBER,
        create_time=NOW,
    )
