"""Object-level access rules, one role at a time: who sees a referral, who may create one."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth import Principal, Role
from peerbridge_referrals.domain.access_rules import (
    Visibility,
    create_refusal,
    purpose_of_use,
    visibility_for,
)
from peerbridge_referrals.domain.commands import PartyInput
from peerbridge_referrals.domain.model import Referral, ReferralDetails, open_referral
from peerbridge_referrals.domain.rules import validate_new_referral

from ..conftest import CLINIC, PROGRAM, synthetic_create_command, synthetic_principal

MEMBER = "member-synthetic-001"
SUPPORTER = "supporter-test-7"
OTHER_PROGRAM = "program-elsewhere-test"
OTHER_CLINIC = "clinic-elsewhere-test"


def outbound() -> ReferralDetails:
    """From PROGRAM (supporter-test-7 asking) to CLINIC, about MEMBER."""
    return validate_new_referral(synthetic_create_command())


def from_clinic() -> ReferralDetails:
    """From CLINIC to PROGRAM, about MEMBER."""
    return validate_new_referral(
        synthetic_create_command(
            direction="clinic_to_peer_support",
            requester=PartyInput("clinic", CLINIC, "Northside Health Clinic (test)"),
            recipient=PartyInput("peer_support_program", PROGRAM, "Harbour (test)"),
        )
    )


def stored(details: ReferralDetails) -> Referral:
    referral, _ = open_referral(
        details, referral_id=uuid4(), request_id=None, now=datetime(2026, 3, 1, tzinfo=UTC)
    )
    return referral


def who(role: Role, organization_id: str | None, subject: str = "person-test-1") -> Principal:
    return synthetic_principal(subject=subject, roles=(role,), organization_id=organization_id)


# -- who sees a referral ------------------------------------------------------------

SEES_OUTBOUND = [
    ("the member it is about", who(Role.MEMBER, None, MEMBER), True),
    ("another member", who(Role.MEMBER, None, "member-synthetic-002"), False),
    ("a member sharing the program", who(Role.MEMBER, PROGRAM, "member-synthetic-002"), False),
    ("the supporter who asked", who(Role.PEER_SUPPORTER, PROGRAM, SUPPORTER), True),
    ("another supporter of the program", who(Role.PEER_SUPPORTER, PROGRAM, "supp-8"), False),
    ("the same id in another program", who(Role.PEER_SUPPORTER, OTHER_PROGRAM, SUPPORTER), False),
    ("a supporter without an organization", who(Role.PEER_SUPPORTER, None, SUPPORTER), False),
    ("a clinician of the recipient clinic", who(Role.CLINICIAN, CLINIC), True),
    ("a clinician elsewhere", who(Role.CLINICIAN, OTHER_CLINIC), False),
    ("the requesting program's coordinator", who(Role.COORDINATOR, PROGRAM), True),
    ("another program's coordinator", who(Role.COORDINATOR, OTHER_PROGRAM), False),
    ("a coordinator without an organization", who(Role.COORDINATOR, None), False),
    ("the requesting program's supervisor", who(Role.SUPERVISOR, PROGRAM), True),
    ("another program's supervisor", who(Role.SUPERVISOR, OTHER_PROGRAM), False),
    ("the recipient clinic's EHR client", who(Role.PARTNER_CLIENT, CLINIC), True),
    ("the program's app client", who(Role.PARTNER_CLIENT, PROGRAM), True),
    ("another organization's client", who(Role.PARTNER_CLIENT, OTHER_CLINIC), False),
    ("an administrator of the program", who(Role.ADMIN, PROGRAM), False),
    ("nobody in particular", synthetic_principal(roles=(), organization_id=PROGRAM), False),
]


@pytest.mark.parametrize(
    ("caller", "sees"), [(c, s) for _, c, s in SEES_OUTBOUND], ids=[n for n, _, _ in SEES_OUTBOUND]
)
def test_who_sees_an_outbound_referral(caller: Principal, sees: bool) -> None:
    assert visibility_for(caller).admits(stored(outbound())) is sees


SEES_FROM_CLINIC = [
    ("a clinician of the requesting clinic", who(Role.CLINICIAN, CLINIC), True),
    ("the receiving program's coordinator", who(Role.COORDINATOR, PROGRAM), True),
    ("a supporter of the receiving program", who(Role.PEER_SUPPORTER, PROGRAM, SUPPORTER), False),
    ("the member it is about", who(Role.MEMBER, None, MEMBER), True),
]


@pytest.mark.parametrize(
    ("caller", "sees"),
    [(c, s) for _, c, s in SEES_FROM_CLINIC],
    ids=[n for n, _, _ in SEES_FROM_CLINIC],
)
def test_who_sees_a_referral_from_a_clinic(caller: Principal, sees: bool) -> None:
    assert visibility_for(caller).admits(stored(from_clinic())) is sees


def test_several_roles_see_what_any_of_them_sees() -> None:
    caller = synthetic_principal(
        subject=SUPPORTER, roles=(Role.MEMBER, Role.PEER_SUPPORTER), organization_id=PROGRAM
    )

    assert visibility_for(caller) == Visibility(
        member_ids=frozenset({SUPPORTER}), requests_of=frozenset({(PROGRAM, SUPPORTER)})
    )
    assert visibility_for(caller).admits(stored(outbound()))


def test_an_administrator_sees_nothing() -> None:
    assert visibility_for(who(Role.ADMIN, PROGRAM)).is_empty


@pytest.mark.parametrize(
    ("caller", "member", "covers"),
    [
        (who(Role.MEMBER, None, MEMBER), MEMBER, True),
        (who(Role.MEMBER, None, MEMBER), "member-synthetic-002", False),
        (who(Role.ADMIN, PROGRAM), MEMBER, False),
        (who(Role.COORDINATOR, PROGRAM), "member-synthetic-002", True),
        (who(Role.PEER_SUPPORTER, PROGRAM, SUPPORTER), "member-synthetic-002", True),
    ],
)
def test_which_member_filters_can_return_anything(
    caller: Principal, member: str, covers: bool
) -> None:
    assert visibility_for(caller).may_cover_member(member) is covers


# -- who may create -------------------------------------------------------------------

CREATES_OUTBOUND = [
    ("the supporter in their own name", who(Role.PEER_SUPPORTER, PROGRAM, SUPPORTER), None),
    (
        "a supporter in a colleague's name",
        who(Role.PEER_SUPPORTER, PROGRAM, "supp-8"),
        "requester.practitioner_id must be the peer supporter themselves",
    ),
    (
        "a supporter for another program",
        who(Role.PEER_SUPPORTER, OTHER_PROGRAM, SUPPORTER),
        "requester.organization_id must be the caller's organization",
    ),
    ("the program's coordinator", who(Role.COORDINATOR, PROGRAM), None),
    (
        "another program's coordinator",
        who(Role.COORDINATOR, OTHER_PROGRAM),
        "requester.organization_id must be the caller's organization",
    ),
    (
        "a coordinator without an organization",
        who(Role.COORDINATOR, None),
        "the caller belongs to no organization",
    ),
    (
        "a clinician, for a program",
        who(Role.CLINICIAN, PROGRAM),
        "role clinician creates clinic_to_peer_support referrals only",
    ),
    ("the program's app client", who(Role.PARTNER_CLIENT, PROGRAM), None),
    (
        "another organization's client",
        who(Role.PARTNER_CLIENT, CLINIC),
        "requester.organization_id must be the caller's organization",
    ),
    ("the member", who(Role.MEMBER, PROGRAM, MEMBER), "role member cannot create referrals"),
    ("a supervisor", who(Role.SUPERVISOR, PROGRAM), "role supervisor cannot create referrals"),
    ("an administrator", who(Role.ADMIN, PROGRAM), "role admin cannot create referrals"),
    (
        "nobody in particular",
        synthetic_principal(roles=(), organization_id=PROGRAM),
        "the caller's role cannot create referrals",
    ),
]


@pytest.mark.parametrize(
    ("caller", "refusal"),
    [(c, r) for _, c, r in CREATES_OUTBOUND],
    ids=[n for n, _, _ in CREATES_OUTBOUND],
)
def test_who_may_create_an_outbound_referral(caller: Principal, refusal: str | None) -> None:
    assert create_refusal(caller, outbound()) == refusal


CREATES_FROM_CLINIC = [
    ("a clinician of the clinic", who(Role.CLINICIAN, CLINIC), None),
    (
        "a clinician elsewhere",
        who(Role.CLINICIAN, OTHER_CLINIC),
        "requester.organization_id must be the caller's organization",
    ),
    (
        "a coordinator of the clinic's id",
        who(Role.COORDINATOR, CLINIC),
        "role coordinator creates peer_support_to_clinic referrals only",
    ),
    ("the clinic's EHR client", who(Role.PARTNER_CLIENT, CLINIC), None),
]


@pytest.mark.parametrize(
    ("caller", "refusal"),
    [(c, r) for _, c, r in CREATES_FROM_CLINIC],
    ids=[n for n, _, _ in CREATES_FROM_CLINIC],
)
def test_who_may_create_a_referral_from_a_clinic(caller: Principal, refusal: str | None) -> None:
    assert create_refusal(caller, from_clinic()) == refusal


def test_one_role_that_allows_is_enough() -> None:
    caller = synthetic_principal(roles=(Role.MEMBER, Role.COORDINATOR), organization_id=PROGRAM)

    assert create_refusal(caller, outbound()) is None


def test_every_role_that_refuses_says_why() -> None:
    caller = synthetic_principal(roles=(Role.MEMBER, Role.SUPERVISOR), organization_id=PROGRAM)

    assert create_refusal(caller, outbound()) == (
        "role member cannot create referrals; role supervisor cannot create referrals"
    )


# -- why, for the audit trail -----------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "purpose"),
    [
        ((Role.CLINICIAN,), PurposeOfUse.TREAT),
        ((Role.CLINICIAN, Role.COORDINATOR), PurposeOfUse.TREAT),
        ((Role.MEMBER,), PurposeOfUse.PATRQT),
        ((Role.MEMBER, Role.PEER_SUPPORTER), PurposeOfUse.HOPERAT),
        ((Role.PEER_SUPPORTER,), PurposeOfUse.HOPERAT),
        ((Role.COORDINATOR,), PurposeOfUse.HOPERAT),
        ((Role.SUPERVISOR,), PurposeOfUse.HOPERAT),
        ((Role.PARTNER_CLIENT,), PurposeOfUse.HOPERAT),
    ],
)
def test_the_default_purpose_of_use(roles: tuple[Role, ...], purpose: PurposeOfUse) -> None:
    assert purpose_of_use(synthetic_principal(roles=roles)) is purpose
