"""Crisis routing as pure decisions: every branch of `escalate`, the guidance, the access
rules and the checks of each request."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from peerbridge_platform.auth import Role
from peerbridge_platform.errors import InvalidArgument
from peerbridge_referrals.domain.crisis import (
    CRISIS_GUIDANCE,
    ClinicalContact,
    FlagDetails,
    FlagStatus,
    OnCallShift,
    RiskFlagSource,
    RiskKind,
    RiskLevel,
    Route,
    acknowledge,
    check_shift,
    escalate,
    on_call_at,
    parse_contact,
    parse_flag,
    raise_refusal,
)
from peerbridge_referrals.domain.values import Category, Direction, Priority

from ..conftest import CLINIC, PROGRAM, synthetic_principal
from ..consent_builders import MEMBER, NOW, synthetic_consent

FLAG = FlagDetails(
    MEMBER, PROGRAM, RiskLevel.IMMINENT, RiskKind.SELF_HARM, RiskFlagSource.PEER_SUPPORTER
)
CONTACT = ClinicalContact(MEMBER, PROGRAM, CLINIC, "Northside Health Clinic (test)", MEMBER, NOW)
ON_CALL = OnCallShift(
    uuid4(),
    PROGRAM,
    "supervisor-test-1",
    NOW - timedelta(hours=1),
    NOW + timedelta(hours=7),
    "coordinator-test-1",
    NOW - timedelta(days=1),
)


def route(**given: object):  # type: ignore[no-untyped-def]
    arguments: dict[str, object] = {
        "flag_id": uuid4(),
        "referral_id": uuid4(),
        "request_id": None,
        "raised_by": "supporter-test-7",
        "now": NOW,
        "contact": CONTACT,
        "consents": [synthetic_consent()],
        "on_call": ON_CALL,
    }
    arguments.update(given)
    return escalate(FLAG if "flag" not in given else given.pop("flag"), **arguments)  # type: ignore[arg-type]


def test_a_consented_clinical_contact_gets_an_urgent_crisis_referral() -> None:
    escalation = route()
    flag, referral = escalation.flag, escalation.referral
    assert flag.route is Route.CLINICAL_CONTACT
    assert referral is not None
    assert flag.referral_id == referral.referral_id
    assert flag.clinic_organization_id == CLINIC
    assert referral.category is Category.CRISIS_CARE
    assert referral.direction is Direction.PEER_SUPPORT_TO_CLINIC
    assert referral.priority is Priority.STAT
    assert referral.requester.organization_id == PROGRAM
    assert referral.recipient.organization_id == CLINIC
    assert flag.status is FlagStatus.UNHANDLED
    # Codes only in the reason the clinic may read.
    assert "self_harm" in referral.reason


def test_an_elevated_risk_is_referred_as_urgent() -> None:
    elevated = replace(FLAG, level=RiskLevel.ELEVATED)
    escalation = escalate(
        elevated,
        flag_id=uuid4(),
        referral_id=uuid4(),
        request_id=None,
        raised_by="x",
        now=NOW,
        contact=CONTACT,
        consents=[synthetic_consent()],
        on_call=None,
    )
    assert escalation.referral is not None
    assert escalation.referral.priority is Priority.URGENT


@pytest.mark.parametrize(
    "consents",
    [
        pytest.param([], id="no consent"),
        pytest.param([synthetic_consent(purposes=("coc",))], id="wrong purpose"),
        pytest.param(
            [synthetic_consent(recipient_organization_ids=("clinic-other-test",))],
            id="wrong recipient",
        ),
        pytest.param(
            [synthetic_consent(disclosing_organization_id="program-other")], id="other program"
        ),
        pytest.param(
            [synthetic_consent(expires_at=NOW + timedelta(minutes=1))], id="expired at the flag"
        ),
    ],
)
def test_without_a_covering_consent_the_on_call_supervisor_gets_it(consents: list) -> None:  # type: ignore[type-arg]
    now = NOW + timedelta(minutes=5)
    escalation = route(consents=consents, now=now)
    assert escalation.referral is None
    assert escalation.flag.route is Route.ON_CALL_SUPERVISOR
    assert escalation.flag.assigned_supervisor_id == "supervisor-test-1"
    assert escalation.flag.referral_id is None


def test_without_a_clinical_contact_the_on_call_supervisor_gets_it() -> None:
    escalation = route(contact=None)
    assert escalation.flag.route is Route.ON_CALL_SUPERVISOR


def test_with_no_route_the_coordinators_get_it_unhandled() -> None:
    escalation = route(contact=None, on_call=None)
    assert escalation.flag.route is Route.COORDINATORS
    assert escalation.flag.status is FlagStatus.UNHANDLED
    assert escalation.referral is None
    assert escalation.flag.assigned_supervisor_id is None


def test_a_shift_that_ended_is_no_route() -> None:
    ended = replace(ON_CALL, end_time=NOW)
    assert route(contact=None, on_call=ended).flag.route is Route.COORDINATORS


def test_the_latest_named_of_overlapping_shifts_is_on_call() -> None:
    later = replace(ON_CALL, shift_id=uuid4(), supervisor_id="supervisor-test-2", create_time=NOW)
    assert on_call_at([ON_CALL, later], NOW) == later
    assert on_call_at([ON_CALL], NOW + timedelta(hours=8)) is None


def test_guidance_names_988_and_911() -> None:
    assert CRISIS_GUIDANCE.call_number == "988"
    assert CRISIS_GUIDANCE.text_number == "988"
    assert "988lifeline.org" in CRISIS_GUIDANCE.chat_url
    assert CRISIS_GUIDANCE.emergency_number == "911"


def test_acknowledging_is_once() -> None:
    flag = route(contact=None, on_call=None).flag
    handled = acknowledge(flag, by="coordinator-test-1", now=NOW)
    assert handled.status is FlagStatus.ACKNOWLEDGED
    assert handled.acknowledged_by == "coordinator-test-1"
    assert acknowledge(handled, by="someone-else", now=NOW + timedelta(hours=1)) is handled


def test_who_may_raise() -> None:
    member = synthetic_principal(MEMBER, (Role.MEMBER,), PROGRAM)
    assert raise_refusal(member, FLAG) is None
    for role in (Role.PEER_SUPPORTER, Role.COORDINATOR, Role.SUPERVISOR, Role.CLINICIAN):
        assert raise_refusal(synthetic_principal("p", (role,), PROGRAM), FLAG) is None
    refused = [
        synthetic_principal("member-synthetic-002", (Role.MEMBER,), PROGRAM),
        synthetic_principal("coordinator-test-9", (Role.COORDINATOR,), "program-other"),
        synthetic_principal("admin-test-1", (Role.ADMIN,), PROGRAM),
        synthetic_principal("client", (Role.PARTNER_CLIENT,), PROGRAM),
    ]
    for caller in refused:
        assert raise_refusal(caller, FLAG) is not None


def test_a_bad_flag_names_every_field() -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_flag("", "bad id!", "severe", "", "check_in", "")
    fields = {v.field for v in raised.value.violations}
    assert fields == {"member_id", "program_id", "level", "kind"}


def test_a_contact_must_be_a_clinic_and_a_shift_a_bounded_period() -> None:
    with pytest.raises(InvalidArgument):
        parse_contact(MEMBER, PROGRAM, PROGRAM, "Self")
    with pytest.raises(InvalidArgument):
        parse_contact(MEMBER, PROGRAM, CLINIC, " ")
    with pytest.raises(InvalidArgument):
        check_shift(PROGRAM, "supervisor-test-1", NOW, NOW)
    with pytest.raises(InvalidArgument):
        check_shift(PROGRAM, "supervisor-test-1", NOW, NOW + timedelta(days=40))
    assert check_shift(PROGRAM, "s", NOW, NOW + timedelta(hours=8)) == (
        NOW,
        NOW + timedelta(hours=8),
    )
