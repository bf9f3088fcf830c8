"""Notes' pure rules: what a note must be, who writes one, and what each reader gets."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from peerbridge_platform.auth import Role
from peerbridge_platform.errors import InvalidArgument
from peerbridge_referrals.domain.consent import ConsentStatus
from peerbridge_referrals.domain.model import Referral, open_referral
from peerbridge_referrals.domain.notes import (
    NOT_SHARED_WITH_MEMBER,
    NOTE_MAX_CHARS,
    AddReferralNote,
    Note,
    Reader,
    new_note,
    note_author,
    notes_log_entry,
    read_notes,
    reader_for,
    validate_new_note,
)
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import PartyKind

from ..conftest import CLINIC, PROGRAM, synthetic_create_command, synthetic_principal
from ..consent_builders import MEMBER, NOW, synthetic_consent

COORDINATOR = synthetic_principal()
CLINICIAN = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
THE_MEMBER = synthetic_principal(MEMBER, (Role.MEMBER,), None)
TEXT = "Talked through the first week on buprenorphine; wants a ride to the clinic."


def a_referral() -> Referral:
    details = validate_new_referral(synthetic_create_command())
    referral, _ = open_referral(details, referral_id=uuid4(), request_id=None, now=NOW)
    return referral


def a_note(referral: Referral, author=COORDINATOR, shared: bool = False) -> Note:  # type: ignore[no-untyped-def]
    draft = validate_new_note(AddReferralNote("", str(referral.referral_id), TEXT, shared))
    party = note_author(author, referral)
    assert party is not None
    note, _ = new_note(draft, referral, party, author, note_id=uuid4(), now=NOW)
    return note


def test_a_note_is_stripped_and_checked() -> None:
    referral_id = str(uuid4())
    draft = validate_new_note(AddReferralNote("req-1", referral_id, f"  {TEXT}\n", True))
    assert draft.text == TEXT
    assert draft.shared_with_member
    assert draft.request_id == "req-1"


@pytest.mark.parametrize(
    ("text", "field"),
    [("", "text"), ("   \n ", "text"), ("x" * (NOTE_MAX_CHARS + 1), "text")],
)
def test_an_empty_or_too_long_note_is_refused(text: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        validate_new_note(AddReferralNote("", str(uuid4()), text))
    assert [v.field for v in refused.value.violations] == [field]


def test_the_longest_note_fits_and_every_bad_field_is_named() -> None:
    assert validate_new_note(AddReferralNote("", str(uuid4()), "x" * NOTE_MAX_CHARS))
    with pytest.raises(InvalidArgument) as refused:
        validate_new_note(AddReferralNote("bad id!", "not-a-uuid", ""))
    assert sorted(v.field for v in refused.value.violations) == [
        "referral_id",
        "request_id",
        "text",
    ]


def test_a_note_never_shows_its_text_in_its_repr() -> None:
    note = a_note(a_referral())
    assert TEXT not in repr(note)
    assert "buprenorphine" not in repr(note)


def test_staff_write_for_their_side_and_members_do_not() -> None:
    referral = a_referral()
    program_side = note_author(COORDINATOR, referral)
    clinic_side = note_author(CLINICIAN, referral)
    assert program_side is not None
    assert program_side.kind is PartyKind.PEER_SUPPORT_PROGRAM
    assert clinic_side is not None
    assert clinic_side.kind is PartyKind.CLINIC
    assert note_author(THE_MEMBER, referral) is None


def test_the_event_of_a_note_holds_no_text() -> None:
    referral = a_referral()
    draft = validate_new_note(AddReferralNote("", str(referral.referral_id), TEXT))
    party = note_author(COORDINATOR, referral)
    assert party is not None
    _, event = new_note(draft, referral, party, COORDINATOR, note_id=uuid4(), now=NOW)
    assert event.subject_member_id == MEMBER
    assert TEXT not in repr(event)


def test_readers_by_side() -> None:
    referral = a_referral()
    assert reader_for(COORDINATOR, referral)[0] is Reader.PEER_SUPPORT
    assert reader_for(CLINICIAN, referral)[0] is Reader.CLINIC
    assert reader_for(THE_MEMBER, referral)[0] is Reader.MEMBER


def test_the_program_reads_every_note() -> None:
    referral = a_referral()
    notes = [a_note(referral), a_note(referral, CLINICIAN)]
    reading = read_notes(COORDINATOR, referral, notes, [], NOW)
    assert [v.withheld for v in reading.views] == [False, False]
    assert notes_log_entry(referral, reading, PROGRAM, NOW) is None


def test_the_clinic_gets_the_programs_notes_withheld_without_a_consent() -> None:
    referral = a_referral()
    ours, theirs = a_note(referral), a_note(referral, CLINICIAN)
    # Referral details are not substance use treatment information.
    consents = [synthetic_consent()]
    reading = read_notes(CLINICIAN, referral, [ours, theirs], consents, NOW)
    withheld, own = reading.views
    assert withheld.withheld
    assert "substance_use_treatment" in (withheld.withheld_because or "")
    assert not own.withheld
    assert reading.consent is None
    assert notes_log_entry(referral, reading, CLINIC, NOW) is None


def test_a_covering_consent_discloses_the_programs_notes_and_logs_it() -> None:
    referral = a_referral()
    consent = synthetic_consent(categories=("substance_use_treatment",))
    notes = [a_note(referral), a_note(referral), a_note(referral, CLINICIAN)]
    reading = read_notes(CLINICIAN, referral, notes, [consent], NOW)
    assert not any(v.withheld for v in reading.views)
    assert reading.consent == consent
    assert len(reading.disclosed) == 2
    entry = notes_log_entry(referral, reading, CLINIC, NOW)
    assert entry is not None
    assert entry.consent_id == str(consent.consent_id)
    assert entry.recipient_organization_id == CLINIC
    assert entry.category.value == "substance_use_treatment"
    assert TEXT not in entry.description


@pytest.mark.parametrize(
    "changes",
    [
        {"recipient_organization_ids": ("clinic-other-test",)},
        {"purposes": ("hpaymt",)},
        {"disclosing_organization_id": "program-other"},
        {"expires_at": NOW - timedelta(minutes=1), "valid_from": NOW - timedelta(days=2)},
    ],
    ids=["wrong recipient", "wrong purpose", "another program", "expired"],
)
def test_a_consent_that_does_not_cover_the_reader_withholds(changes: dict[str, object]) -> None:
    referral = a_referral()
    consent = synthetic_consent(categories=("substance_use_treatment",))
    consent = replace(consent, terms=replace(consent.terms, **changes))  # type: ignore[arg-type]
    reading = read_notes(CLINICIAN, referral, [a_note(referral)], [consent], NOW)
    assert reading.views[0].withheld


def test_a_revoked_consent_withholds() -> None:
    referral = a_referral()
    consent = replace(
        synthetic_consent(categories=("substance_use_treatment",)),
        status=ConsentStatus.REVOKED,
        revoke_time=NOW - timedelta(minutes=1),
        revoked_by=MEMBER,
    )
    reading = read_notes(CLINICIAN, referral, [a_note(referral)], [consent], NOW)
    assert reading.views[0].withheld


def test_the_member_reads_only_the_notes_shared_with_them() -> None:
    referral = a_referral()
    shared, private = a_note(referral, shared=True), a_note(referral)
    reading = read_notes(THE_MEMBER, referral, [shared, private], [], NOW)
    assert [v.withheld_because for v in reading.views] == [None, NOT_SHARED_WITH_MEMBER]
