"""Profile rules: BCP 47 languages, IANA zones, members-only age bands, and the field mask."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from peerbridge_identity.domain.commands import ProfileInput, UpdateProfile
from peerbridge_identity.domain.model import Person, Profile
from peerbridge_identity.domain.profile_rules import (
    apply_profile_change,
    is_language_tag,
    is_time_zone,
    parse_profile_change,
    validate_profile,
)
from peerbridge_identity.domain.values import AgeBand, ContactPreference, Role
from peerbridge_platform.errors import FieldViolation, InvalidArgument

MEMBER = frozenset({Role.MEMBER})
SUPPORTER = frozenset({Role.PEER_SUPPORTER})
NOW = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    "tag",
    [
        "en",
        "es-MX",
        "zh-Hant-TW",
        "sr-Latn",
        "es-419",
        "de-CH-1901",
        "en-US-x-twain",
        "x-klingon",
        "yue",
        "zh-yue-HK",
        "sl-rozaj-biske",
        "en-a-bbb-x-a-ccc",
    ],
)
def test_language_tags_that_follow_bcp_47(tag: str) -> None:
    assert is_language_tag(tag)


@pytest.mark.parametrize(
    "tag",
    [
        "",
        "e",
        "english language",
        "en_US",
        "en-",
        "-en",
        "en--US",
        "123",
        "en-US-",
        "a" * 36,
        "en-ÜS",
        "en-Latn-Latn-US",
    ],
)
def test_strings_that_are_not_language_tags(tag: str) -> None:
    assert not is_language_tag(tag)


@pytest.mark.parametrize("zone", ["America/Chicago", "Europe/Berlin", "UTC", "Asia/Kolkata"])
def test_iana_time_zones(zone: str) -> None:
    assert is_time_zone(zone)


@pytest.mark.parametrize(
    "zone", ["", "CST6", "America/Gotham", "../etc/passwd", "+02:00", "america/chicago"]
)
def test_strings_that_are_not_iana_time_zones(zone: str) -> None:
    assert not is_time_zone(zone)


def given(**changes: str) -> ProfileInput:
    fields = {
        "display_name": "Sam (test)",
        "contact_preference": "sms",
        "language": "es-MX",
        "time_zone": "America/Mexico_City",
        "age_band": "25_to_34",
    }
    fields.update(changes)
    return ProfileInput(**fields)


def test_a_valid_member_profile() -> None:
    violations: list[FieldViolation] = []

    profile = validate_profile(given(), MEMBER, violations)

    assert violations == []
    assert profile == Profile(
        "Sam (test)", "es-MX", "America/Mexico_City", ContactPreference.SMS, AgeBand.B25_TO_34
    )


def test_contact_preference_and_age_band_are_optional() -> None:
    violations: list[FieldViolation] = []

    profile = validate_profile(given(contact_preference="", age_band=""), MEMBER, violations)

    assert profile is not None
    assert (profile.contact_preference, profile.age_band) == (None, None)


def test_the_age_band_is_collected_for_members_only() -> None:
    violations: list[FieldViolation] = []

    assert validate_profile(given(), SUPPORTER, violations) is None
    assert violations == [FieldViolation("profile.age_band", "is collected for members only")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"display_name": ""}, "profile.display_name"),
        ({"display_name": "   "}, "profile.display_name"),
        ({"display_name": "x" * 81}, "profile.display_name"),
        ({"display_name": "Sam\u202e(test)"}, "profile.display_name"),
        ({"display_name": "Sam\n"}, "profile.display_name"),
        ({"display_name": " Sam"}, "profile.display_name"),
        ({"language": ""}, "profile.language"),
        ({"language": "klingon language"}, "profile.language"),
        ({"time_zone": ""}, "profile.time_zone"),
        ({"time_zone": "Mars/Olympus_Mons"}, "profile.time_zone"),
        ({"contact_preference": "carrier_pigeon"}, "profile.contact_preference"),
        ({"age_band": "12_to_17"}, "profile.age_band"),
    ],
)
def test_each_bad_field_is_named(changes: dict[str, str], field: str) -> None:
    violations: list[FieldViolation] = []

    assert validate_profile(given(**changes), MEMBER, violations) is None
    assert [v.field for v in violations] == [field]


def test_a_missing_profile_is_reported() -> None:
    violations: list[FieldViolation] = []

    assert validate_profile(None, MEMBER, violations) is None
    assert violations == [FieldViolation("profile", "is required")]


def test_eighty_characters_is_the_longest_display_name() -> None:
    violations: list[FieldViolation] = []

    assert validate_profile(given(display_name="é" * 80), MEMBER, violations) is not None


# -- changes through a field mask ----------------------------------------------------


def person(roles: frozenset[Role] = MEMBER) -> Person:
    profile = Profile("Sam (test)", "en", "America/Chicago", ContactPreference.IN_APP)
    return Person(uuid4(), roles, None, profile, NOW, NOW, 1)


def change(mask: tuple[str, ...], profile: ProfileInput | None = None) -> Any:
    violations: list[FieldViolation] = []
    command = UpdateProfile(str(uuid4()), profile if profile else given(), mask)
    parsed = parse_profile_change(command, violations)
    return parsed, violations


def test_only_masked_fields_change() -> None:
    parsed, violations = change(("language",))

    profile, changed = apply_profile_change(person(), parsed)

    assert violations == []
    assert changed == ("language",)
    assert profile == Profile("Sam (test)", "es-MX", "America/Chicago", ContactPreference.IN_APP)


@pytest.mark.parametrize(
    "path",
    [
        "roles",
        "organization_id",
        "person_id",
        "version",
        "profile.display_name",
        "",
        "*",
        "display_name.first",
    ],
)
def test_paths_outside_the_profile_are_refused(path: str) -> None:
    _, violations = change(("display_name", path))

    assert [v.field for v in violations] == ["update_mask"]
    assert repr(path) in violations[0].description


def test_an_empty_mask_is_refused_rather_than_replacing_everything() -> None:
    parsed, violations = change(())

    assert parsed is None
    assert violations == [FieldViolation("update_mask", "is required: name the fields to change")]


def test_masked_values_are_checked_and_unmasked_ones_ignored() -> None:
    parsed, violations = change(("time_zone",), given(time_zone="Nowhere/Land", language="??"))

    assert parsed is None
    assert [v.field for v in violations] == ["profile.time_zone"]


def test_an_optional_field_masked_without_a_value_is_cleared() -> None:
    parsed, _ = change(("contact_preference",), given(contact_preference=""))

    profile, changed = apply_profile_change(person(), parsed)

    assert profile.contact_preference is None
    assert changed == ("contact_preference",)


def test_a_required_field_masked_without_a_value_is_refused() -> None:
    parsed, violations = change(("display_name",), given(display_name=""))

    assert parsed is None
    assert violations == [FieldViolation("profile.display_name", "is required")]


def test_unchanged_values_are_not_reported_as_changes() -> None:
    parsed, _ = change(("display_name", "language"), given(language="en"))

    _, changed = apply_profile_change(person(), parsed)

    assert changed == ()


def test_a_non_member_cannot_be_given_an_age_band() -> None:
    parsed, _ = change(("age_band",))

    with pytest.raises(InvalidArgument) as caught:
        apply_profile_change(person(SUPPORTER), parsed)

    assert caught.value.violations == [
        FieldViolation("profile.age_band", "is collected for members only")
    ]
