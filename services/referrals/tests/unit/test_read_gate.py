"""The consent gate on reads and the purpose of a disclosure: who reads a referral as its
recipient, what a redacted referral keeps, and which consents cover which purpose."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from peerbridge_platform.auth import Role
from peerbridge_referrals.domain.consent import ConsentPurpose, revoke
from peerbridge_referrals.domain.disclosure import disclosure_for, purpose_for
from peerbridge_referrals.domain.model import Referral, open_referral
from peerbridge_referrals.domain.read_gate import ReadView, gate_read, is_disclosure, redact
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import Category, Direction, Party, PartyKind

from ..conftest import CLINIC, PROGRAM, synthetic_create_command, synthetic_principal
from ..consent_builders import MEMBER, NOW, synthetic_consent

CLINICIAN = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
PARTNER = synthetic_principal("client-test-1", (Role.PARTNER_CLIENT,), CLINIC)
COORDINATOR = synthetic_principal()
THE_MEMBER = synthetic_principal(MEMBER, (Role.MEMBER,), None)


@pytest.fixture
def referral() -> Referral:
    details = validate_new_referral(synthetic_create_command())
    made, _ = open_referral(
        details, referral_id=UUID(int=7), request_id=None, now=NOW + timedelta(minutes=1)
    )
    return replace(made, status_reason="Member asked to wait", outcome="Started treatment")


def test_the_recipients_people_and_clients_read_as_recipients(referral: Referral) -> None:
    assert is_disclosure(CLINICIAN, referral)
    assert is_disclosure(PARTNER, referral)


def test_the_requesting_side_and_the_member_do_not(referral: Referral) -> None:
    assert not is_disclosure(COORDINATOR, referral)
    assert not is_disclosure(THE_MEMBER, referral)


def test_a_clinic_to_program_referral_is_no_disclosure_by_the_program(
    referral: Referral,
) -> None:
    inbound = replace(
        referral,
        direction=Direction.CLINIC_TO_PEER_SUPPORT,
        requester=Party(PartyKind.CLINIC, "clinic-other-test", "Other clinic"),
    )
    assert not is_disclosure(CLINICIAN, inbound)


def test_under_a_covering_consent_the_recipient_reads_it_whole(referral: Referral) -> None:
    consent = synthetic_consent()
    read = gate_read(CLINICIAN, referral, [consent], referral.create_time)
    assert read.referral == referral
    assert read.disclosure.view is ReadView.FULL
    assert str(consent.consent_id) in read.disclosure.reason
    assert read.decision is not None
    assert read.decision.consent == consent


@pytest.mark.parametrize(
    "changes",
    [
        {},  # no consent at all: the list below is emptied
        {"recipient_organization_ids": ("clinic-other-test",)},
        {"purposes": ("caremgt",)},
        {"categories": ("contact_details",)},
        {"expires_at": NOW + timedelta(seconds=30)},
    ],
    ids=["no consent", "wrong recipient", "wrong purpose", "wrong category", "expired"],
)
def test_without_one_the_recipient_reads_it_redacted_and_why(
    referral: Referral, changes: dict[str, object]
) -> None:
    consents = [synthetic_consent(**changes)] if changes else []
    read = gate_read(CLINICIAN, referral, consents, referral.create_time)
    assert read.disclosure.view is ReadView.REDACTED
    assert "no active consent" in read.disclosure.reason
    assert read.referral == redact(referral)


def test_a_revoked_consent_redacts_from_its_revocation_on(referral: Referral) -> None:
    revoked = revoke(synthetic_consent(), by=MEMBER, reason=None, now=referral.create_time)
    read = gate_read(CLINICIAN, referral, [revoked], referral.create_time)
    assert read.disclosure.view is ReadView.REDACTED


def test_the_requesting_side_reads_it_whole_without_consent(referral: Referral) -> None:
    read = gate_read(COORDINATOR, referral, [], referral.create_time)
    assert (read.referral, read.disclosure.view, read.decision) == (referral, ReadView.FULL, None)


def test_a_redacted_referral_keeps_only_what_the_minimal_view_shows(referral: Referral) -> None:
    redacted = redact(referral)
    assert (redacted.subject_member_id, redacted.reason) == ("", "")
    assert (redacted.status_reason, redacted.status_reason_category, redacted.outcome) == (
        None,
        None,
        None,
    )
    assert redacted.requester.practitioner_id is None
    kept = ("referral_id", "status", "priority", "direction", "version", "create_time")
    assert all(getattr(redacted, name) == getattr(referral, name) for name in kept)
    assert redacted.recipient == referral.recipient
    assert redacted.requester.organization_id == PROGRAM


@pytest.mark.parametrize(
    ("category", "purpose"),
    [
        (Category.MEDICATION_FOR_OPIOID_USE_DISORDER, ConsentPurpose.TREAT),
        (Category.CRISIS_CARE, ConsentPurpose.TREAT),
        (Category.HOUSING, ConsentPurpose.CAREMGT),
        (Category.SOCIAL_NEEDS, ConsentPurpose.CAREMGT),
    ],
)
def test_the_purpose_follows_the_service_category(
    referral: Referral, category: Category, purpose: ConsentPurpose
) -> None:
    assert purpose_for(replace(referral, category=category)) is purpose


def test_a_treatment_consent_does_not_cover_a_housing_referral(referral: Referral) -> None:
    housing = replace(referral, category=Category.HOUSING)
    decision = disclosure_for(housing, [synthetic_consent()], referral.create_time)
    assert not decision.full
    assert decision.purpose is ConsentPurpose.CAREMGT
    assert decision.withheld_because is not None
    assert "CAREMGT" in decision.withheld_because


def test_a_care_management_consent_naming_the_recipient_covers_it(referral: Referral) -> None:
    housing = replace(referral, category=Category.HOUSING)
    consent = synthetic_consent(purposes=("caremgt",))
    assert disclosure_for(housing, [consent], referral.create_time).consent == consent


def test_the_treating_provider_class_covers_treatment_only(referral: Referral) -> None:
    by_class = {"recipient_organization_ids": (), "recipient_classes": ("treating_providers",)}
    treatment = synthetic_consent(**by_class)
    assert disclosure_for(referral, [treatment], referral.create_time).full
    care = synthetic_consent(**by_class, purposes=("caremgt",))
    housing = replace(referral, category=Category.HOUSING)
    assert not disclosure_for(housing, [care], referral.create_time).full


def test_the_purpose_is_a_parameter_of_the_gate(referral: Referral) -> None:
    consent = synthetic_consent()
    at = referral.create_time
    assert disclosure_for(referral, [consent], at, ConsentPurpose.TREAT).full
    wrong = disclosure_for(referral, [consent], at, ConsentPurpose.HPAYMT)
    assert (wrong.full, wrong.purpose) == (False, ConsentPurpose.HPAYMT)
