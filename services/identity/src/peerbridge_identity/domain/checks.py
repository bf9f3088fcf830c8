"""Small field checks shared by the rules: each records a violation instead of raising,
so a request's every bad field is reported at once, named by its path."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from peerbridge_platform.errors import FieldViolation

# An idempotency key: any short plain token (a UUID is a good choice).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
REQUEST_ID_RULE = "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"

E = TypeVar("E", bound=StrEnum)

Violations = list[FieldViolation]


def check_request_id(value: str, violations: Violations) -> str | None:
    """The request id, None when the caller sent none."""
    if not value:
        return None
    if not _REQUEST_ID.fullmatch(value):
        violations.append(FieldViolation("request_id", REQUEST_ID_RULE))
    return value


def parse_choice(enum: type[E], field: str, value: str, violations: Violations) -> E | None:
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


def parse_optional_choice(
    enum: type[E], field: str, value: str, violations: Violations
) -> E | None:
    """Like parse_choice, but an empty value means "not given"."""
    return parse_choice(enum, field, value, violations) if value else None


def parse_uuid(field: str, value: str, violations: Violations) -> UUID | None:
    if not value:
        violations.append(FieldViolation(field, "is required"))
        return None
    try:
        return UUID(value)
    except ValueError:
        violations.append(FieldViolation(field, "must be a UUID"))
        return None


def parse_optional_uuid(field: str, value: str, violations: Violations) -> UUID | None:
    return parse_uuid(field, value, violations) if value else None


def has_control_characters(value: str) -> bool:
    # Cc and Cf cover C0/C1 controls and invisible format characters (bidi
    # overrides), which make names display as something they are not.
    return any(unicodedata.category(char) in {"Cc", "Cf"} for char in value)


def check_text(field: str, value: str, max_chars: int, violations: Violations) -> str:
    """Free text shown to people: required, bounded, without control characters."""
    if not value.strip():
        violations.append(FieldViolation(field, "is required"))
    elif len(value) > max_chars:
        violations.append(FieldViolation(field, f"must be at most {max_chars} characters"))
    elif has_control_characters(value):
        violations.append(FieldViolation(field, "must not contain control characters"))
    elif value != value.strip():
        violations.append(FieldViolation(field, "must not start or end with spaces"))
    return value
