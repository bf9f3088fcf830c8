"""The break-the-glass rules (42 CFR 2.51): who may, what is checked and recorded, who
reviews, and that a record is reviewed once."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth import Role
from peerbridge_platform.auth.scopes import REFERRALS_EMERGENCY, ROLE_SCOPES
from peerbridge_platform.errors import FailedPrecondition, InvalidArgument
from peerbridge_referrals.domain.disclosure import DisclosureChannel
from peerbridge_referrals.domain.emergency import (
    NATURE_MAX_CHARS,
    emergency_log_entry,
    emergency_refusal,
    may_know,
    record_emergency,
    review,
    reviewer_programs,
    same_request,
    validate_emergency_request,
    validate_review_note,
)
from peerbridge_referrals.domain.model import Referral, open_referral
from peerbridge_referrals.domain.rules import validate_new_referral

from ..conftest import CLINIC, PROGRAM, synthetic_create_command, synthetic_principal
from ..consent_builders import MEMBER, NOW

CLINICIAN = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
REFERRAL_ID = UUID(int=7)


@pytest.fixture
def referral() -> Referral:
    details = validate_new_referral(synthetic_create_command())
    made, _ = open_referral(details, referral_id=REFERRAL_ID, request_id=None, now=NOW)
    return made


def test_only_clinicians_hold_the_emergency_scope() -> None:
    holders = {role for role, scopes in ROLE_SCOPES.items() if REFERRALS_EMERGENCY in scopes}
    assert holders == {Role.CLINICIAN}


@pytest.mark.parametrize(
    ("organization", "knows"),
    [(CLINIC, True), (PROGRAM, True), ("clinic-other-test", False), (None, False)],
)
def test_only_the_two_organizations_of_the_referral_may_know_of_it(
    referral: Referral, organization: str | None, knows: bool
) -> None:
    caller = synthetic_principal("clinician-test-9", (Role.CLINICIAN,), organization)
    assert may_know(caller, referral) is knows


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.PARTNER_CLIENT, Role.SUPERVISOR])
def test_other_roles_may_not_break_the_glass(role: Role) -> None:
    assert emergency_refusal(synthetic_principal("someone-test-1", (role,), CLINIC)) is not None
    assert emergency_refusal(CLINICIAN) is None


def test_the_nature_is_required_and_every_bad_field_is_named() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_emergency_request("nope", " ", "x" * 201, "bad id with spaces")
    fields = {v.field for v in caught.value.violations}
    assert fields == {"referral_id", "nature_of_emergency", "recipient_facility", "request_id"}
    with pytest.raises(InvalidArgument):
        validate_emergency_request(str(REFERRAL_ID), "x" * (NATURE_MAX_CHARS + 1), "", "")


def test_the_record_holds_what_2_51_requires(referral: Referral) -> None:
    request = validate_emergency_request(str(REFERRAL_ID), " Overdose ", " ED ", "")
    record, event = record_emergency(
        request, referral, CLINICIAN, disclosure_id=UUID(int=9), now=NOW
    )
    assert (record.recipient_person_id, record.recipient_organization_id) == (
        CLINICIAN.subject,
        CLINIC,
    )
    assert (record.recipient_facility, record.nature_of_emergency) == ("ED", "Overdose")
    assert (record.disclosing_organization_id, record.disclosed_at) == (PROGRAM, NOW)
    assert (record.subject_member_id, record.reviewed) == (MEMBER, False)
    assert event.disclosure == record
    assert same_request(record, request)

    entry = emergency_log_entry(referral, record)
    assert (entry.purpose, entry.consent_id, entry.channel) == (
        PurposeOfUse.ETREAT,
        None,
        DisclosureChannel.EMERGENCY,
    )
    assert entry.recipient_organization_id == CLINIC


def test_coordinators_and_supervisors_review_for_their_program() -> None:
    assert reviewer_programs(synthetic_principal()) == {PROGRAM}
    supervisor = synthetic_principal("supervisor-test-1", (Role.SUPERVISOR,))
    assert reviewer_programs(supervisor) == {PROGRAM}
    assert reviewer_programs(CLINICIAN) == frozenset()


def test_a_record_is_reviewed_once_with_a_note(referral: Referral) -> None:
    request = validate_emergency_request(str(REFERRAL_ID), "Overdose", "", "")
    record, _ = record_emergency(request, referral, CLINICIAN, disclosure_id=UUID(int=9), now=NOW)
    later = NOW + timedelta(hours=1)
    reviewed = review(record, by="coordinator-test-1", note="Confirmed", now=later)
    assert (reviewed.reviewed, reviewed.review_time, reviewed.review_note) == (
        True,
        later,
        "Confirmed",
    )
    with pytest.raises(FailedPrecondition):
        review(reviewed, by="coordinator-test-1", note="Again", now=later)
    with pytest.raises(InvalidArgument):
        validate_review_note("   ")
