"""The consent gate: which consent, if any, lets a referral's full view reach its recipient,
and the two views it leads to (valid R4 per fhir.resources R4B)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest
from fhir.resources.R4B.bundle import Bundle

from peerbridge_referrals.adapters.fhir.referral_view import (
    PART2_NOTICE,
    disclosed_bundle,
    minimal_bundle,
)
from peerbridge_referrals.adapters.outbox_writer import write_to_outbox
from peerbridge_referrals.domain.consent import revoke
from peerbridge_referrals.domain.disclosure import disclosure_for, log_entry
from peerbridge_referrals.domain.events import ReferralCreated
from peerbridge_referrals.domain.model import Referral, open_referral
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import Direction, PartyKind

from ..conftest import CLINIC, PROGRAM, synthetic_create_command
from ..consent_builders import MEMBER, NOW, synthetic_consent


@pytest.fixture
def referral() -> Referral:
    details = validate_new_referral(synthetic_create_command())
    made, _ = open_referral(
        details, referral_id=UUID(int=7), request_id=None, now=NOW + timedelta(minutes=1)
    )
    return made


def test_a_covering_consent_opens_the_full_view(referral: Referral) -> None:
    consent = synthetic_consent()
    decision = disclosure_for(referral, [consent], referral.create_time)
    assert decision.consent == consent
    assert decision.full
    entry = log_entry(referral, consent, referral.create_time)
    assert (entry.recipient_organization_id, entry.consent_id) == (CLINIC, str(consent.consent_id))


@pytest.mark.parametrize(
    "changes",
    [
        {"recipient_organization_ids": ("clinic-other-test",)},
        {"purposes": ("coc",)},
        {"categories": ("contact_details",)},
        {"disclosing_organization_id": "program-other-test"},
        {"subject_member_id": "member-synthetic-009"},
    ],
)
def test_a_consent_that_does_not_cover_it_leaves_the_minimal_view(
    referral: Referral, changes: dict[str, object]
) -> None:
    decision = disclosure_for(referral, [synthetic_consent(None, **changes)], referral.create_time)
    assert decision.consent is None
    assert decision.withheld_because is not None
    assert CLINIC in decision.withheld_because


def test_expired_revoked_or_no_consent_leave_the_minimal_view(referral: Referral) -> None:
    consent = synthetic_consent()
    later = referral.create_time + timedelta(days=400)
    assert disclosure_for(referral, [consent], later).consent is None
    revoked = revoke(consent, by=MEMBER, reason=None, now=referral.create_time)
    assert disclosure_for(referral, [revoked], referral.create_time).consent is None
    assert disclosure_for(referral, [], referral.create_time).consent is None


def test_treating_providers_cover_a_clinic_but_not_a_program(referral: Referral) -> None:
    by_class = synthetic_consent(
        recipient_organization_ids=(), recipient_classes=("treating_providers",)
    )
    assert disclosure_for(referral, [by_class], referral.create_time).consent == by_class
    to_program = replace(
        referral,
        direction=Direction.CLINIC_TO_PEER_SUPPORT,
        recipient=replace(referral.recipient, kind=PartyKind.PEER_SUPPORT_PROGRAM),
    )
    assert disclosure_for(to_program, [by_class], referral.create_time).consent is None


def test_the_newest_covering_consent_is_named(referral: Referral) -> None:
    older = synthetic_consent(UUID(int=1))
    newer = replace(synthetic_consent(UUID(int=2)), create_time=NOW + timedelta(seconds=1))
    assert disclosure_for(referral, [older, newer], referral.create_time).consent == newer


def test_the_full_view_holds_the_reason_the_consent_and_the_notice(referral: Referral) -> None:
    consent = synthetic_consent()
    bundle = disclosed_bundle(referral, consent)
    Bundle.model_validate_json(json.dumps(bundle))
    task, request, consent_view = (e["resource"] for e in bundle["entry"])
    assert consent_view["resourceType"] == "Consent"
    assert request["supportingInfo"][0]["reference"] == bundle["entry"][2]["fullUrl"]
    assert request["reasonCode"] == [{"text": referral.reason}]
    assert task["note"] == request["note"] == [{"text": PART2_NOTICE}]
    assert "42 CFR part 2" in PART2_NOTICE


def test_the_minimal_view_says_only_that_a_referral_exists(referral: Referral) -> None:
    bundle = minimal_bundle(referral)
    Bundle.model_validate_json(json.dumps(bundle))
    task, request = (e["resource"] for e in bundle["entry"])
    assert (task["status"], task["owner"]["identifier"]["value"]) == ("requested", CLINIC)
    assert task["requester"]["identifier"]["value"] == PROGRAM
    assert "for" not in task
    assert not {"code", "category", "reasonCode", "supportingInfo", "note"} & set(request)
    assert request["subject"]["extension"][0]["valueCode"] == "masked"
    text = json.dumps(bundle)
    assert referral.reason not in text
    assert MEMBER not in text
    assert {label["code"] for label in task["meta"]["security"]} >= {"42CFRPart2", "NORDSCLCD"}


async def test_the_outbox_refuses_a_referral_event_without_a_consent_decision(
    referral: Referral,
) -> None:
    with pytest.raises(ValueError, match="no consent decision"):
        await write_to_outbox(None, ReferralCreated(referral))  # type: ignore[arg-type]
