"""Passwords and sign-in: the rules, free of hashing and storage.

- usernames: 3 to 64 characters of letters, digits and ".-_@", unique
  case-insensitively (NIST SP 800-63B leaves their form to us);
- passwords: 12 to 256 characters, not a commonly used one and not the
  username (SP 800-63B §5.1.1.2: length and a blocklist, no composition rules);
- lockout: after `max_failures` wrong passwords in a row the account refuses
  every sign-in for `lock_for`, and the answer is the same as for a wrong
  password, so nobody learns that the account exists or is locked;
- throttle: at most `max_attempts` failed sign-ins per network address per
  `window`, whichever accounts they aim at (password spraying).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from peerbridge_platform.errors import FieldViolation

from .values import Role

USERNAME_RULE = "must be 3 to 64 characters of letters, digits, '.', '-', '_' or '@'"
_USERNAME = re.compile(r"[A-Za-z0-9.\-_@]{3,64}")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

# The most used passwords of at least 12 characters in public breach corpora;
# a deployment that wants the full lists checks them where passwords are chosen.
_COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456789123",
        "password1234",
        "password12345",
        "password123456",
        "passwordpassword",
        "qwertyuiopasdf",
        "qwertyuiop123",
        "qwerty123456",
        "iloveyou1234",
        "111111111111",
        "000000000000",
        "abcdefghijkl",
        "abc123abc123",
        "letmein12345",
        "welcome12345",
        "changeme1234",
        "administrator",
        "recovery1234",
    }
)


def username_key(username: str) -> str:
    """What uniqueness and sign-in compare: the username case-folded (NFKC)."""
    return unicodedata.normalize("NFKC", username).casefold()


def check_username(username: str, violations: list[FieldViolation]) -> None:
    if not _USERNAME.fullmatch(username):
        violations.append(FieldViolation("username", USERNAME_RULE))


def check_new_password(password: str, username: str, violations: list[FieldViolation]) -> None:
    """SP 800-63B: length bounds and a blocklist; any characters, no composition rules."""
    field = "new_password"
    length = len(password)
    if length < MIN_PASSWORD_LENGTH or length > MAX_PASSWORD_LENGTH:
        violations.append(
            FieldViolation(
                field,
                f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            )
        )
        return
    folded = unicodedata.normalize("NFKC", password).casefold()
    if folded in _COMMON_PASSWORDS or len(set(folded)) <= 2:
        violations.append(FieldViolation(field, "is a commonly used password; choose another"))
    elif username and username_key(username) in folded:
        violations.append(FieldViolation(field, "must not contain the username"))


@dataclass(frozen=True)
class PasswordCredential:
    person_id: UUID
    username: str
    password_hash: str
    set_time: datetime
    failed_attempts: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True)
class Account:
    """What sign-in needs: the credential and the person's current roles and organization."""

    credential: PasswordCredential
    roles: frozenset[Role]
    organization_id: UUID | None


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_for: timedelta = timedelta(minutes=15)

    def is_locked(self, credential: PasswordCredential, now: datetime) -> bool:
        return credential.locked_until is not None and now < credential.locked_until

    def lock_until(self, failures: int, now: datetime) -> datetime | None:
        """When the account unlocks after `failures` wrong passwords in a row, or None."""
        return now + self.lock_for if failures >= self.max_failures else None


@dataclass(frozen=True)
class ThrottlePolicy:
    max_attempts: int = 20
    window: timedelta = timedelta(minutes=1)

    def retry_after(self, window_start: datetime, attempts: int, now: datetime) -> int | None:
        """Seconds to wait before the address may try again, or None when it may now."""
        window_end = window_start + self.window
        if now >= window_end or attempts < self.max_attempts:
            return None
        return max(1, math.ceil((window_end - now).total_seconds()))
