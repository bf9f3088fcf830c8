"""The PEERBRIDGE_ENCRYPTION_KEYS format: `kid:base64key,kid:base64key`, active key first."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .errors import KeyringConfigError

VARIABLE = "PEERBRIDGE_ENCRYPTION_KEYS"
NEW_KEY_COMMAND = "python -m peerbridge_platform.crypto new-key"
KEY_BYTES = 32  # AES-256
# Short and printable: ids travel inside every token and show up in errors.
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


@dataclass(frozen=True)
class KeySpec:
    key_id: str
    secret: bytes = field(repr=False)


def parse_keys(value: str) -> list[KeySpec]:
    """Every key of the setting, active first; KeyringConfigError naming the entry at fault.

    Messages name entries by position and id only, never by their key bytes.
    """
    entries = [entry.strip() for entry in value.split(",")]
    if not any(entries):
        raise KeyringConfigError(f"{VARIABLE} is empty; generate a key with `{NEW_KEY_COMMAND}`")
    specs: list[KeySpec] = []
    for position, entry in enumerate(entries, start=1):
        spec = _parse_entry(position, entry)
        if any(known.key_id == spec.key_id for known in specs):
            raise KeyringConfigError(f"key id {spec.key_id!r} appears more than once")
        specs.append(spec)
    return specs


def _parse_entry(position: int, entry: str) -> KeySpec:
    key_id, separator, encoded = entry.partition(":")
    key_id, encoded = key_id.strip(), encoded.strip()
    if not separator or not encoded:
        raise KeyringConfigError(f"entry {position} is not `kid:base64key`")
    if KEY_ID.fullmatch(key_id) is None:
        raise KeyringConfigError(
            f"entry {position}: a key id is 1 to 32 letters, digits, '_', '.' or '-'"
        )
    try:
        secret = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise KeyringConfigError(f"key {key_id!r} is not valid base64") from None
    if len(secret) != KEY_BYTES:
        raise KeyringConfigError(
            f"key {key_id!r} is {len(secret)} bytes; AES-256 needs {KEY_BYTES}"
        )
    return KeySpec(key_id, secret)


def new_key_entry(key_id: str | None = None) -> str:
    """A fresh random key as one `kid:base64key` entry; the id defaults to today's date."""
    chosen = key_id or f"k{datetime.now(UTC):%Y%m%d}{secrets.token_hex(2)}"
    if KEY_ID.fullmatch(chosen) is None:
        raise KeyringConfigError("a key id is 1 to 32 letters, digits, '_', '.' or '-'")
    encoded = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
    return f"{chosen}:{encoded}"
