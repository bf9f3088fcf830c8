"""The consent rules: every 42 CFR 2.31 element checked, and `covers` in every case."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from peerbridge_platform.errors import InvalidArgument
from peerbridge_referrals.domain.consent import (
    ConsentPurpose,
    ConsentStatus,
    InformationCategory,
    RecipientClass,
    covers,
    revoke,
    validate_consent_terms,
)

from ..conftest import CLINIC, PROGRAM
from ..consent_builders import MEMBER, NOW, synthetic_consent, terms_input

OTHER_CLINIC = "clinic-eastside-test"
REFERRAL = InformationCategory.REFERRAL_DETAILS
TREAT = ConsentPurpose.TREAT


def violations_of(**changes: object) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        validate_consent_terms(terms_input(**changes), now=NOW)
    return {v.field: v.description for v in caught.value.violations}


def test_a_complete_consent_is_accepted_as_given() -> None:
    terms = validate_consent_terms(terms_input(), now=NOW)
    assert terms.subject_member_id == MEMBER
    assert terms.disclosing_organization_id == PROGRAM
    assert terms.recipient_organization_ids == {CLINIC}
    assert terms.categories == {REFERRAL}
    assert terms.purposes == {TREAT}


def test_every_missing_element_is_named_at_once() -> None:
    found = violations_of(
        subject_member_id="",
        disclosing_organization_id="",
        categories=(),
        recipient_organization_ids=(),
        purposes=(),
        revocation_instructions="  ",
        valid_from=None,
        expires_at=None,
        capture_method="",
        signed_at=None,
    )
    assert set(found) == {
        "terms.subject_member_id",
        "terms.disclosing_organization_id",
        "terms.categories",
        "terms.recipient_organization_ids",
        "terms.purposes",
        "terms.revocation_instructions",
        "terms.valid_from",
        "terms.expires_at",
        "terms.capture_method",
        "terms.signed_at",
    }


def test_missing_terms_are_one_violation() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_consent_terms(None, now=NOW)
    assert [v.field for v in caught.value.violations] == ["terms"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"categories": ("everything",)}, "terms.categories[0]"),
        ({"purposes": ("marketing",)}, "terms.purposes[0]"),
        ({"recipient_classes": ("anyone",)}, "terms.recipient_classes[0]"),
        ({"recipient_organization_ids": ("bad id!",)}, "terms.recipient_organization_ids[0]"),
        ({"recipient_organization_ids": (PROGRAM,)}, "terms.recipient_organization_ids"),
        ({"capture_method": "telepathy"}, "terms.capture_method"),
        ({"signed_at": NOW + timedelta(minutes=5)}, "terms.signed_at"),
        ({"expires_at": NOW - timedelta(hours=2)}, "terms.expires_at"),
        ({"expires_at": NOW - timedelta(minutes=1)}, "terms.expires_at"),
        ({"revocation_instructions": "x" * 1001}, "terms.revocation_instructions"),
    ],
)
def test_bad_elements_are_refused(changes: dict[str, object], field: str) -> None:
    assert field in violations_of(**changes)


def test_expiry_must_follow_the_start_and_not_be_past_already() -> None:
    assert violations_of(expires_at=NOW - timedelta(hours=1)) == {
        "terms.expires_at": "must be after valid_from"
    }
    start_later = NOW - timedelta(minutes=30)
    assert violations_of(expires_at=NOW - timedelta(minutes=1), valid_from=start_later) == {
        "terms.expires_at": "has already passed"
    }


def test_an_expiry_event_may_stand_for_the_date() -> None:
    terms = validate_consent_terms(
        terms_input(expires_at=None, expiry_event="End of treatment at the clinic"), now=NOW
    )
    assert terms.expires_at is None
    assert terms.expiry_event == "End of treatment at the clinic"


def test_verbal_consent_needs_a_witness_and_only_it_has_one() -> None:
    assert "terms.witness_name" in violations_of(capture_method="verbal_with_witness")
    assert "terms.witness_name" in violations_of(witness_name="Sam Example (synthetic)")
    terms = validate_consent_terms(
        terms_input(capture_method="verbal_with_witness", witness_name="Sam Example (synthetic)"),
        now=NOW,
    )
    assert terms.witness_name == "Sam Example (synthetic)"


def test_a_class_of_recipients_may_stand_for_names() -> None:
    terms = validate_consent_terms(
        terms_input(recipient_organization_ids=(), recipient_classes=("treating_providers",)),
        now=NOW,
    )
    assert terms.recipient_classes == {RecipientClass.TREATING_PROVIDERS}


# covers(): one consent, every way a disclosure can fall outside it.

CONSENT = synthetic_consent()
START = CONSENT.terms.valid_from
END = NOW + timedelta(days=365)  # the builder's expiry


def test_covers_the_named_recipient_purpose_and_category_within_the_period() -> None:
    assert covers(CONSENT, CLINIC, TREAT, REFERRAL, NOW)
    assert covers(CONSENT, CLINIC, TREAT, REFERRAL, START)
    assert covers(CONSENT, CLINIC, TREAT, REFERRAL, END - timedelta(microseconds=1))


def test_not_yet_valid() -> None:
    assert not covers(CONSENT, CLINIC, TREAT, REFERRAL, START - timedelta(microseconds=1))


def test_expired() -> None:
    assert not covers(CONSENT, CLINIC, TREAT, REFERRAL, END)
    assert not covers(CONSENT, CLINIC, TREAT, REFERRAL, END + timedelta(days=1))


def test_wrong_recipient() -> None:
    assert not covers(CONSENT, OTHER_CLINIC, TREAT, REFERRAL, NOW)
    assert not covers(CONSENT, PROGRAM, TREAT, REFERRAL, NOW)


@pytest.mark.parametrize("purpose", [p for p in ConsentPurpose if p is not TREAT])
def test_wrong_purpose(purpose: ConsentPurpose) -> None:
    assert not covers(CONSENT, CLINIC, purpose, REFERRAL, NOW)


@pytest.mark.parametrize("category", [c for c in InformationCategory if c is not REFERRAL])
def test_wrong_category(category: InformationCategory) -> None:
    assert not covers(CONSENT, CLINIC, TREAT, category, NOW)


def test_revoked_covers_nothing_from_the_revocation_on() -> None:
    revoked_at = NOW + timedelta(days=2)
    revoked = revoke(CONSENT, by=MEMBER, reason=None, now=revoked_at)
    assert revoked.status is ConsentStatus.REVOKED
    assert revoked.version == 2
    assert not covers(revoked, CLINIC, TREAT, REFERRAL, revoked_at)
    assert not covers(revoked, CLINIC, TREAT, REFERRAL, revoked_at + timedelta(days=1))
    # What was disclosed before the revocation was covered then.
    assert covers(revoked, CLINIC, TREAT, REFERRAL, NOW)


def test_revoking_twice_changes_nothing() -> None:
    once = revoke(CONSENT, by=MEMBER, reason="Changed my mind", now=NOW)
    assert revoke(once, by="someone-else", reason=None, now=NOW + timedelta(days=1)) is once


def test_a_class_covers_only_recipients_said_to_belong_to_it() -> None:
    by_class = synthetic_consent(
        recipient_organization_ids=(), recipient_classes=("treating_providers",)
    )
    treating = frozenset({RecipientClass.TREATING_PROVIDERS})
    assert covers(by_class, OTHER_CLINIC, TREAT, REFERRAL, NOW, recipient_classes=treating)
    assert not covers(by_class, OTHER_CLINIC, TREAT, REFERRAL, NOW)


def test_covers_exactly_the_combinations_the_consent_names() -> None:
    """Every recipient, purpose and category against a consent naming two of each."""
    consent = synthetic_consent(
        recipient_organization_ids=(CLINIC, OTHER_CLINIC),
        purposes=("treat", "coc"),
        categories=("referral_details", "contact_details"),
    )
    recipients = [CLINIC, OTHER_CLINIC, "clinic-unnamed-test"]
    for recipient, purpose, category in itertools.product(
        recipients, ConsentPurpose, InformationCategory
    ):
        expected = (
            recipient in {CLINIC, OTHER_CLINIC}
            and purpose in {ConsentPurpose.TREAT, ConsentPurpose.COC}
            and category in {REFERRAL, InformationCategory.CONTACT_DETAILS}
        )
        assert covers(consent, recipient, purpose, category, NOW) is expected
