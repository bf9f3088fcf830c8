"""What a profile may hold, and which of its fields a person may change.

A profile holds only what features use. Roles and organization are not part
of it and can never be changed through it (no mass assignment).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass, replace

from peerbridge_platform.errors import FieldViolation, InvalidArgument

from .checks import Violations, check_text, parse_optional_choice
from .commands import ProfileInput, UpdateProfile
from .model import PROFILE_FIELDS, Person, Profile
from .values import AgeBand, ContactPreference, Role

DISPLAY_NAME_MAX_CHARS = 80
# RFC 5646 §4.4.1 suggests 35 characters cover all practical tags.
LANGUAGE_TAG_MAX_CHARS = 35
# BCP 47 (RFC 5646) syntax: language[-extlang][-script][-region](-variant)*
# (-extension)*[-privateuse], or a private-use tag alone. Registry membership
# is not checked: new subtags appear faster than a copy of the registry.
_LANGUAGE_TAG = re.compile(
    r"(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{5,8})"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?"
    r"|[Xx](?:-[A-Za-z0-9]{1,8})+)"
)
MEMBERS_ONLY = "is collected for members only"


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_language_tag(value: str) -> bool:
    return len(value) <= LANGUAGE_TAG_MAX_CHARS and _LANGUAGE_TAG.fullmatch(value) is not None


def is_time_zone(value: str) -> bool:
    return value in _time_zones()


def _check_language(field: str, value: str, violations: Violations) -> None:
    if not value:
        violations.append(FieldViolation(field, "is required"))
    elif not is_language_tag(value):
        violations.append(FieldViolation(field, "must be a BCP 47 language tag, e.g. en or es-MX"))


def _check_time_zone(field: str, value: str, violations: Violations) -> None:
    if not value:
        violations.append(FieldViolation(field, "is required"))
    elif not is_time_zone(value):
        violations.append(FieldViolation(field, "must be an IANA time zone, e.g. America/Chicago"))


def validate_profile(
    given: ProfileInput | None, roles: frozenset[Role], violations: Violations
) -> Profile | None:
    """The checked profile of a new person with `roles`, or None after recording why not."""
    if given is None:
        violations.append(FieldViolation("profile", "is required"))
        return None
    before = len(violations)
    check_text("profile.display_name", given.display_name, DISPLAY_NAME_MAX_CHARS, violations)
    contact = parse_optional_choice(
        ContactPreference, "profile.contact_preference", given.contact_preference, violations
    )
    _check_language("profile.language", given.language, violations)
    _check_time_zone("profile.time_zone", given.time_zone, violations)
    age_band = parse_optional_choice(AgeBand, "profile.age_band", given.age_band, violations)
    if age_band is not None and Role.MEMBER not in roles:
        violations.append(FieldViolation("profile.age_band", MEMBERS_ONLY))
    if len(violations) > before:
        return None
    return Profile(
        display_name=given.display_name,
        language=given.language,
        time_zone=given.time_zone,
        contact_preference=contact,
        age_band=age_band,
    )


@dataclass(frozen=True)
class ProfileChange:
    """The checked values of the masked fields; None clears an optional field."""

    fields: tuple[str, ...]  # in PROFILE_FIELDS order
    display_name: str = ""
    language: str = ""
    time_zone: str = ""
    contact_preference: ContactPreference | None = None
    age_band: AgeBand | None = None


def parse_profile_change(command: UpdateProfile, violations: Violations) -> ProfileChange | None:
    """The masked fields and their values, refusing any path that is not a profile field."""
    paths = command.update_mask
    if not paths:
        violations.append(FieldViolation("update_mask", "is required: name the fields to change"))
        return None
    editable = ", ".join(PROFILE_FIELDS)
    for path in dict.fromkeys(paths):
        if path not in PROFILE_FIELDS:
            violations.append(
                FieldViolation(
                    "update_mask", f"{path!r} is not editable here; editable: {editable}"
                )
            )
    if command.profile is None:
        violations.append(FieldViolation("profile", "is required"))
        return None
    given, before = command.profile, len(violations)
    fields = tuple(name for name in PROFILE_FIELDS if name in paths)
    if "display_name" in fields:
        check_text("profile.display_name", given.display_name, DISPLAY_NAME_MAX_CHARS, violations)
    if "language" in fields:
        _check_language("profile.language", given.language, violations)
    if "time_zone" in fields:
        _check_time_zone("profile.time_zone", given.time_zone, violations)
    contact = (
        parse_optional_choice(
            ContactPreference, "profile.contact_preference", given.contact_preference, violations
        )
        if "contact_preference" in fields
        else None
    )
    age_band = (
        parse_optional_choice(AgeBand, "profile.age_band", given.age_band, violations)
        if "age_band" in fields
        else None
    )
    if len(violations) > before:
        return None
    return ProfileChange(
        fields=fields,
        display_name=given.display_name,
        language=given.language,
        time_zone=given.time_zone,
        contact_preference=contact,
        age_band=age_band,
    )


def apply_profile_change(person: Person, change: ProfileChange) -> tuple[Profile, tuple[str, ...]]:
    """The new profile and the names of the fields whose value really changed."""
    if change.age_band is not None and not person.holds(Role.MEMBER):
        raise InvalidArgument(
            "the profile change is not valid", [FieldViolation("profile.age_band", MEMBERS_ONLY)]
        )
    values = {name: getattr(change, name) for name in change.fields}
    updated = replace(person.profile, **values)
    changed = tuple(
        name for name in change.fields if getattr(updated, name) != getattr(person.profile, name)
    )
    return updated, changed
