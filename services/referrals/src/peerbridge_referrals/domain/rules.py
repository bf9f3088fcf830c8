"""Creation rules for referrals, as pure functions.

Every bad field is reported at once, one violation per field, named by its
path in the request (`requester.kind`), so a caller can fix them in one go.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TypeVar

from peerbridge_platform.errors import FieldViolation, InvalidArgument

from .commands import CreateReferral, PartyInput
from .model import ReferralDetails
from .values import PARTY_KINDS_FOR_DIRECTION, Category, Direction, Party, PartyKind, Priority

# Identifiers of other services' objects are opaque to us, but they end up in
# logs, keys and FHIR identifiers: keep them short and plain.
_OPAQUE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
OPAQUE_ID_RULE = "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"
REASON_MAX_CHARS = 2000
DISPLAY_NAME_MAX_CHARS = 200

E = TypeVar("E", bound=StrEnum)


def is_opaque_id(value: str) -> bool:
    return _OPAQUE_ID.fullmatch(value) is not None


def check_opaque_id(field: str, value: str, violations: list[FieldViolation]) -> None:
    if not value:
        violations.append(FieldViolation(field, "is required"))
    elif not is_opaque_id(value):
        violations.append(FieldViolation(field, OPAQUE_ID_RULE))


def parse_choice(
    enum: type[E], field: str, value: str, violations: list[FieldViolation]
) -> E | None:
    """The enum member named `value`, or None after recording why it is not one."""
    if not value:
        violations.append(FieldViolation(field, "is required"))
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        violations.append(FieldViolation(field, f"must be one of: {allowed}"))
        return None


def _check_text(field: str, value: str, max_chars: int, violations: list[FieldViolation]) -> None:
    if not value.strip():
        violations.append(FieldViolation(field, "is required"))
    elif len(value) > max_chars:
        violations.append(FieldViolation(field, f"must be at most {max_chars} characters"))


def _parse_party(
    field: str,
    given: PartyInput | None,
    expected_kind: PartyKind | None,
    violations: list[FieldViolation],
) -> Party | None:
    """The party, or None after recording what is wrong with it.

    `expected_kind` is what the referral's direction demands of this side
    (None when the direction itself is missing or unknown).
    """
    if given is None:
        violations.append(FieldViolation(field, "is required"))
        return None
    before = len(violations)
    kind = parse_choice(PartyKind, f"{field}.kind", given.kind, violations)
    if kind is not None and expected_kind is not None and kind is not expected_kind:
        violations.append(
            FieldViolation(f"{field}.kind", f"must be {expected_kind.value} for this direction")
        )
    check_opaque_id(f"{field}.organization_id", given.organization_id, violations)
    _check_text(f"{field}.display_name", given.display_name, DISPLAY_NAME_MAX_CHARS, violations)
    if given.practitioner_id is not None:
        check_opaque_id(f"{field}.practitioner_id", given.practitioner_id, violations)
    if kind is None or len(violations) > before:
        return None
    return Party(kind, given.organization_id, given.display_name, given.practitioner_id)


def _check_distinct_organizations(
    command: CreateReferral, violations: list[FieldViolation]
) -> None:
    requester, recipient = command.requester, command.recipient
    if requester is None or recipient is None:
        return
    if not is_opaque_id(recipient.organization_id):
        return  # already reported as malformed
    if requester.organization_id == recipient.organization_id:
        violations.append(
            FieldViolation(
                "recipient.organization_id", "must differ from requester.organization_id"
            )
        )


def validate_new_referral(command: CreateReferral) -> ReferralDetails:
    """The checked details of a create request, or InvalidArgument naming every bad field."""
    violations: list[FieldViolation] = []
    if command.request_id and not is_opaque_id(command.request_id):
        violations.append(FieldViolation("request_id", OPAQUE_ID_RULE))
    check_opaque_id("subject_member_id", command.subject_member_id, violations)
    direction = parse_choice(Direction, "direction", command.direction, violations)
    category = parse_choice(Category, "category", command.category, violations)
    priority = parse_choice(Priority, "priority", command.priority, violations)
    _check_text("reason", command.reason, REASON_MAX_CHARS, violations)
    requester_kind, recipient_kind = (
        PARTY_KINDS_FOR_DIRECTION[direction] if direction is not None else (None, None)
    )
    requester = _parse_party("requester", command.requester, requester_kind, violations)
    recipient = _parse_party("recipient", command.recipient, recipient_kind, violations)
    _check_distinct_organizations(command, violations)
    if (
        violations
        or direction is None
        or category is None
        or priority is None
        or requester is None
        or recipient is None
    ):
        raise InvalidArgument("the referral is not valid", violations)
    return ReferralDetails(
        subject_member_id=command.subject_member_id,
        direction=direction,
        category=category,
        priority=priority,
        reason=command.reason,
        requester=requester,
        recipient=recipient,
    )
