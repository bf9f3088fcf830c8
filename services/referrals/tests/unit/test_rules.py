"""Creation rules: every field's checks, one violation per bad field, all reported at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from peerbridge_platform.errors import FieldViolation, InvalidArgument
from peerbridge_referrals.domain.commands import CreateReferral, PartyInput
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import (
    Category,
    Direction,
    Party,
    PartyKind,
    Priority,
)

CommandBuilder = Callable[..., CreateReferral]


def violations_of(command: CreateReferral) -> list[FieldViolation]:
    with pytest.raises(InvalidArgument) as caught:
        validate_new_referral(command)
    return caught.value.violations


def fields_of(command: CreateReferral) -> list[str]:
    return [violation.field for violation in violations_of(command)]


def test_a_valid_command_gives_typed_details(create_command: CreateReferral) -> None:
    details = validate_new_referral(create_command)

    assert details.direction is Direction.PEER_SUPPORT_TO_CLINIC
    assert details.category is Category.MEDICATION_FOR_OPIOID_USE_DISORDER
    assert details.priority is Priority.URGENT
    assert details.requester == Party(
        PartyKind.PEER_SUPPORT_PROGRAM,
        "program-harbour-test",
        "Harbour Peer Recovery (test)",
        "supporter-test-7",
    )
    assert details.recipient.kind is PartyKind.CLINIC
    assert details.recipient.practitioner_id is None
    assert details.reason == create_command.reason


def test_clinic_to_peer_support_is_valid_with_the_parties_swapped(
    create_command: CreateReferral,
) -> None:
    assert create_command.requester is not None
    assert create_command.recipient is not None
    command = replace(
        create_command,
        direction="clinic_to_peer_support",
        category="peer_support",
        requester=create_command.recipient,
        recipient=create_command.requester,
    )

    details = validate_new_referral(command)

    assert details.requester.kind is PartyKind.CLINIC
    assert details.recipient.kind is PartyKind.PEER_SUPPORT_PROGRAM


@pytest.mark.parametrize("request_id", ["", "a", "x" * 64, "req:2026.03-01_A"])
def test_request_id_is_optional_and_opaque(make_command: CommandBuilder, request_id: str) -> None:
    validate_new_referral(make_command(request_id=request_id))


def _party(command: CreateReferral, side: str, **changes: Any) -> CreateReferral:
    party: PartyInput = getattr(command, side)
    changed = replace(party, **changes)
    if side == "requester":
        return replace(command, requester=changed)
    return replace(command, recipient=changed)


# (expected field, how to break it)
INVALID_FIELDS: list[tuple[str, dict[str, Any]]] = [
    ("request_id", {"request_id": "x" * 65}),
    ("request_id", {"request_id": "has space"}),
    ("request_id", {"request_id": "ünïcode"}),
    ("subject_member_id", {"subject_member_id": ""}),
    ("subject_member_id", {"subject_member_id": "m" * 65}),
    ("subject_member_id", {"subject_member_id": "member/1"}),
    ("subject_member_id", {"subject_member_id": "member\n1"}),
    ("direction", {"direction": ""}),
    ("direction", {"direction": "sideways"}),
    ("direction", {"direction": "PEER_SUPPORT_TO_CLINIC"}),
    ("category", {"category": ""}),
    ("category", {"category": "surgery"}),
    ("priority", {"priority": ""}),
    ("priority", {"priority": "whenever"}),
    ("reason", {"reason": ""}),
    ("reason", {"reason": "   \n\t"}),
    ("reason", {"reason": "r" * 2001}),
    ("requester", {"requester": None}),
    ("recipient", {"recipient": None}),
]


@pytest.mark.parametrize(("field", "changes"), INVALID_FIELDS)
def test_each_invalid_field_is_reported_alone(
    make_command: CommandBuilder, field: str, changes: dict[str, Any]
) -> None:
    violations = violations_of(make_command(**changes))

    assert [v.field for v in violations] == [field]
    assert violations[0].description


INVALID_PARTY_FIELDS: list[tuple[str, dict[str, Any]]] = [
    ("kind", {"kind": ""}),
    ("kind", {"kind": "hospital"}),
    ("organization_id", {"organization_id": ""}),
    ("organization_id", {"organization_id": "o" * 65}),
    ("organization_id", {"organization_id": "org 1"}),
    ("display_name", {"display_name": ""}),
    ("display_name", {"display_name": "  "}),
    ("display_name", {"display_name": "n" * 201}),
    ("practitioner_id", {"practitioner_id": ""}),
    ("practitioner_id", {"practitioner_id": "p#1"}),
]


@pytest.mark.parametrize("side", ["requester", "recipient"])
@pytest.mark.parametrize(("field", "changes"), INVALID_PARTY_FIELDS)
def test_each_invalid_party_field_is_reported_alone(
    create_command: CreateReferral, side: str, field: str, changes: dict[str, Any]
) -> None:
    assert fields_of(_party(create_command, side, **changes)) == [f"{side}.{field}"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("reason", "r" * 2000), ("reason", "r"), ("subject_member_id", "m" * 64)],
)
def test_lengths_at_the_limits_are_accepted(
    make_command: CommandBuilder, field: str, value: str
) -> None:
    validate_new_referral(make_command(**{field: value}))


def test_display_name_at_its_limit_is_accepted(create_command: CreateReferral) -> None:
    validate_new_referral(_party(create_command, "recipient", display_name="n" * 200))


def test_parties_must_match_peer_support_to_clinic(create_command: CreateReferral) -> None:
    command = _party(
        _party(create_command, "requester", kind="clinic"),
        "recipient",
        kind="peer_support_program",
    )

    violations = violations_of(command)

    assert violations == [
        FieldViolation("requester.kind", "must be peer_support_program for this direction"),
        FieldViolation("recipient.kind", "must be clinic for this direction"),
    ]


def test_parties_must_match_clinic_to_peer_support(create_command: CreateReferral) -> None:
    command = replace(create_command, direction="clinic_to_peer_support")

    assert fields_of(command) == ["requester.kind", "recipient.kind"]


def test_one_wrong_side_is_reported_on_that_side_only(create_command: CreateReferral) -> None:
    command = _party(create_command, "recipient", kind="peer_support_program")

    assert fields_of(command) == ["recipient.kind"]


def test_party_kinds_are_not_judged_without_a_valid_direction(
    create_command: CreateReferral,
) -> None:
    command = _party(replace(create_command, direction=""), "requester", kind="clinic")

    assert fields_of(command) == ["direction"]


def test_requester_and_recipient_must_be_different_organizations(
    create_command: CreateReferral,
) -> None:
    command = _party(create_command, "recipient", organization_id="program-harbour-test")

    assert fields_of(command) == ["recipient.organization_id"]


def test_every_bad_field_is_reported_at_once(create_command: CreateReferral) -> None:
    command = replace(
        _party(create_command, "recipient", organization_id="", display_name=""),
        subject_member_id="",
        direction="",
        category="x",
        priority="",
        reason="",
        requester=None,
    )

    assert sorted(fields_of(command)) == sorted(
        [
            "subject_member_id",
            "direction",
            "category",
            "priority",
            "reason",
            "requester",
            "recipient.organization_id",
            "recipient.display_name",
        ]
    )


def test_an_unknown_choice_lists_the_allowed_values(make_command: CommandBuilder) -> None:
    (violation,) = violations_of(make_command(priority="soon"))

    assert violation.description == "must be one of: routine, urgent, asap, stat"
