"""The rules of usernames, passwords, lockout and throttle (NIST SP 800-63B), free of I/O."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerbridge_identity.domain.credentials import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    USERNAME_RULE,
    LockoutPolicy,
    PasswordCredential,
    ThrottlePolicy,
    check_new_password,
    check_username,
    username_key,
)
from peerbridge_platform.errors import FieldViolation

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LENGTH_RULE = f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
COMMON = "is a commonly used password; choose another"
CONTAINS_USERNAME = "must not contain the username"


def username_violations(username: str) -> list[FieldViolation]:
    violations: list[FieldViolation] = []
    check_username(username, violations)
    return violations


def password_violations(password: str, username: str = "ava-test") -> list[str]:
    violations: list[FieldViolation] = []
    check_new_password(password, username, violations)
    assert all(violation.field == "new_password" for violation in violations)
    return [violation.description for violation in violations]


# Usernames.


@pytest.mark.parametrize(
    "username",
    ["ava", "a" * 64, "ava.test", "ava-test_2", "ava@harbour.example", "AVA.Test", "007"],
)
def test_usernames_of_the_allowed_characters_and_length_pass(username: str) -> None:
    assert username_violations(username) == []


@pytest.mark.parametrize(
    "username",
    ["", "av", "a" * 65, "ava test", "ava+x", "zoë", "ava\n", " ava", "ava/..", "ava;drop"],
)
def test_other_usernames_are_refused_with_the_rule(username: str) -> None:
    assert username_violations(username) == [FieldViolation("username", USERNAME_RULE)]


def test_usernames_compare_case_insensitively() -> None:
    assert username_key("Ava.Test@Harbour.Example") == username_key("ava.test@harbour.example")
    assert username_key("AVA-TEST") == "ava-test"
    # NFKC first: a full-width name folds to the one people type.
    assert username_key("\uff21\uff36\uff21") == "ava"
    assert username_key("ava") != username_key("ava2")


# Passwords.


@pytest.mark.parametrize(
    ("length", "refused"),
    [
        (MIN_PASSWORD_LENGTH - 1, True),
        (MIN_PASSWORD_LENGTH, False),
        (MAX_PASSWORD_LENGTH, False),
        (MAX_PASSWORD_LENGTH + 1, True),
    ],
)
def test_password_length_bounds(length: int, refused: bool) -> None:
    password = ("harbour light " * 20)[:length]

    assert password_violations(password) == ([LENGTH_RULE] if refused else [])


_SPREAD = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=300
)


@given(password=_SPREAD)
def test_the_length_rule_applies_exactly_outside_12_to_256(password: str) -> None:
    outside = not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH

    violations = password_violations(password, username="")

    assert (LENGTH_RULE in violations) == outside
    # One reason at a time: a password of the wrong length is not judged further.
    assert len(violations) <= 1


@given(
    words=st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1),
        min_size=1,
        max_size=8,
    )
)
def test_any_characters_are_allowed_in_a_long_enough_passphrase(words: list[str]) -> None:
    # No composition rules: the length and the blocklist only (SP 800-63B §5.1.1.2).
    password = ("Harbour 7 ✓ " + " ".join(words))[:MAX_PASSWORD_LENGTH]

    assert password_violations(password, username="") == []


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "мой пароль довольно длинный",
        "私のパスワードは長いです",
        "🌊🌊🌊 harbour lights 🌊🌊🌊",
        "            spaces count too            ",
        "tab\tand newline\nare characters",
    ],
)
def test_unicode_passphrases_and_spaces_are_fine(password: str) -> None:
    assert password_violations(password) == []


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "PASSWORD1234",
        "PassWord1234",
        "qwerty123456",
        "administrator",
        # Full-width digits: NFKC folds them to a listed password.
        "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10\uff11\uff12",
        "aaaaaaaaaaaa",
        "abababababababab",
        "            ",
    ],
)
def test_common_and_trivially_repetitive_passwords_are_refused(password: str) -> None:
    assert password_violations(password) == [COMMON]


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("ava-test is my password", "ava-test"),
        ("my name is AVA-TEST ok", "ava-test"),
        ("ava-test is my password", "AVA-Test"),
        ("prefix.ben@harbour.example", "Ben@Harbour.Example"),
    ],
)
def test_passwords_containing_the_username_are_refused(password: str, username: str) -> None:
    assert password_violations(password, username) == [CONTAINS_USERNAME]


def test_without_a_username_only_length_and_blocklist_apply() -> None:
    assert password_violations("ava-test is my password", username="") == []


# Lockout.


def credential(locked_until: datetime | None = None) -> PasswordCredential:
    return PasswordCredential(
        person_id=uuid4(),
        username="ava-test",
        password_hash="plain:x",
        set_time=T0,
        locked_until=locked_until,
    )


def test_lockout_starts_at_exactly_max_failures() -> None:
    policy = LockoutPolicy(max_failures=5, lock_for=timedelta(minutes=15))

    assert policy.lock_until(4, T0) is None
    assert policy.lock_until(5, T0) == T0 + timedelta(minutes=15)
    assert policy.lock_until(6, T0) == T0 + timedelta(minutes=15)


def test_a_lock_ends_after_lock_for() -> None:
    policy = LockoutPolicy(max_failures=3, lock_for=timedelta(minutes=10))
    until = policy.lock_until(3, T0)
    assert until is not None
    locked = credential(locked_until=until)

    assert policy.is_locked(locked, T0)
    assert policy.is_locked(locked, until - timedelta(microseconds=1))
    assert not policy.is_locked(locked, until)
    assert not policy.is_locked(credential(), T0)


# Throttle.

_POLICIES = st.builds(
    ThrottlePolicy,
    max_attempts=st.integers(min_value=1, max_value=100),
    window=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=1)),
)
_OFFSETS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=2))


@given(policy=_POLICIES, attempts=st.integers(min_value=0, max_value=200), offset=_OFFSETS)
def test_no_wait_below_the_limit_or_after_the_window(
    policy: ThrottlePolicy, attempts: int, offset: timedelta
) -> None:
    if attempts < policy.max_attempts or offset >= policy.window:
        assert policy.retry_after(T0, attempts, T0 + offset) is None


@given(policy=_POLICIES, extra=st.integers(min_value=0, max_value=100), data=st.data())
def test_inside_the_window_the_wait_is_whole_seconds_until_it_ends(
    policy: ThrottlePolicy, extra: int, data: st.DataObject
) -> None:
    offset = data.draw(st.timedeltas(min_value=timedelta(0), max_value=policy.window))
    if offset == policy.window:
        return
    remaining = (policy.window - offset).total_seconds()

    wait = policy.retry_after(T0, policy.max_attempts + extra, T0 + offset)

    assert wait is not None
    assert wait >= 1
    assert wait <= math.ceil(policy.window.total_seconds())
    # Rounded up, give or take the millisecond the implementation allows for.
    assert remaining - 0.001 <= wait < remaining + 1


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(0), 60),
        (timedelta(seconds=20.5), 40),
        (timedelta(seconds=59), 1),
        (timedelta(seconds=59, microseconds=999_999), 1),
    ],
)
def test_retry_after_examples(elapsed: timedelta, expected: int) -> None:
    policy = ThrottlePolicy(max_attempts=3, window=timedelta(minutes=1))

    assert policy.retry_after(T0, 3, T0 + elapsed) == expected
    assert policy.retry_after(T0, 2, T0 + elapsed) is None
    assert policy.retry_after(T0, 3, T0 + timedelta(minutes=1)) is None


def test_waiting_retry_after_seconds_is_always_enough() -> None:
    policy = ThrottlePolicy(max_attempts=1, window=timedelta(seconds=60))
    now = T0 + timedelta(seconds=49, microseconds=999_500)  # 10.0005 s left

    wait = policy.retry_after(T0, 1, now)

    assert wait is not None
    assert policy.retry_after(T0, 1, now + timedelta(seconds=wait)) is None
