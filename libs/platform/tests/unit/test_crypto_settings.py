"""PEERBRIDGE_ENCRYPTION_KEYS: parsing, and failures that name the problem but no key."""

from __future__ import annotations

import base64
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from peerbridge_platform.crypto import (
    EncryptionSettings,
    KeyringConfigError,
    field_context,
    load_or_create_key_file,
    new_key_entry,
    parse_keys,
)

VARIABLE = "PEERBRIDGE_ENCRYPTION_KEYS"
# 32 bytes of 0x11: fine for parsing tests, never for anything stored.
SYNTHETIC_KEY = base64.b64encode(b"\x11" * 32).decode()


@pytest.fixture(autouse=True)
def no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)


def test_keys_are_read_active_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, f" k2:{SYNTHETIC_KEY} , k1:{SYNTHETIC_KEY}")

    ring = EncryptionSettings().keyring()

    assert ring.key_ids == ("k2", "k1")
    assert ring.active_key_id == "k2"


def test_a_missing_setting_says_how_to_make_a_key() -> None:
    with pytest.raises(ValidationError) as caught:
        EncryptionSettings()

    (problem,) = caught.value.errors()
    assert problem["loc"] == ("encryption_keys",)
    assert VARIABLE in problem["msg"]
    assert "python -m peerbridge_platform.crypto new-key" in problem["msg"]


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("", "empty"),
        (" , ", "empty"),
        (SYNTHETIC_KEY, "kid:base64key"),
        (f"k1:{SYNTHETIC_KEY},", "entry 2"),
        (f"bad id:{SYNTHETIC_KEY}", "key id"),
        (f"{'k' * 33}:{SYNTHETIC_KEY}", "key id"),
        ("k1:not*base64", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "5 bytes; AES-256 needs 32"),
        (f"k1:{SYNTHETIC_KEY},k1:{SYNTHETIC_KEY}", "more than once"),
    ],
)
def test_malformed_keys_are_refused_by_name(value: str, complaint: str) -> None:
    with pytest.raises(KeyringConfigError, match=complaint) as caught:
        parse_keys(value)

    assert SYNTHETIC_KEY not in str(caught.value)


def test_settings_errors_never_echo_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    short = base64.b64encode(b"\x22" * 31).decode()
    monkeypatch.setenv(VARIABLE, f"k2:{SYNTHETIC_KEY},k1:{short}")

    with pytest.raises(ValidationError) as caught:
        EncryptionSettings()

    assert "31 bytes" in str(caught.value)
    for secret in (SYNTHETIC_KEY, short):
        assert secret not in str(caught.value)
        # What the services print or log of a settings error: the messages.
        assert all(secret not in problem["msg"] for problem in caught.value.errors())


def test_the_keys_never_show_in_a_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, f"k1:{SYNTHETIC_KEY}")

    assert SYNTHETIC_KEY not in repr(EncryptionSettings())


def test_new_key_entries_parse_and_differ() -> None:
    first, second = new_key_entry(), new_key_entry("k-2026.1")

    (spec,) = parse_keys(first)
    assert len(spec.secret) == 32
    assert second.startswith("k-2026.1:")
    assert parse_keys(second)[0].secret != spec.secret
    with pytest.raises(KeyringConfigError):
        new_key_entry("no spaces")


def test_the_cli_prints_a_usable_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "peerbridge_platform.crypto", "new-key", "--id", "k7"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    entry = result.stdout.strip()
    assert entry.startswith("k7:")
    ring = EncryptionSettings(encryption_keys=entry).keyring()  # type: ignore[arg-type]
    context = field_context("test")
    assert ring.decrypt(ring.encrypt(b"synthetic", context=context), context=context)


def test_a_key_file_is_created_once_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "encryption.keys"

    first = load_or_create_key_file(path)

    assert load_or_create_key_file(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(parse_keys(first)) == 1


def test_a_damaged_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "encryption.keys"
    path.write_text("k1:not-a-key\n")

    with pytest.raises(KeyringConfigError, match="k1"):
        load_or_create_key_file(path)
