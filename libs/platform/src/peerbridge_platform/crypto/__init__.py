"""Field-level encryption at rest for free-text protected data (42 CFR Part 2).

- `Keyring`: AES-256-GCM under rotating keys; `encrypt`/`decrypt` take a
  `context` (built with `field_context`) that binds a token to its row;
- `EncryptionSettings`: PEERBRIDGE_ENCRYPTION_KEYS (`kid:base64key,...`,
  active key first), required in every environment;
- `load_or_create_key_file`: a key kept in a 0600 file, for local runs;
- `python -m peerbridge_platform.crypto new-key`: generate a key entry.
"""

from .context import field_context
from .errors import (
    CryptoError,
    DecryptionFailed,
    KeyringConfigError,
    MalformedToken,
    UnknownKey,
)
from .keyfile import load_or_create_key_file
from .keyring import Keyring
from .keyspec import KeySpec, new_key_entry, parse_keys
from .settings import EncryptionSettings

__all__ = [
    "CryptoError",
    "DecryptionFailed",
    "EncryptionSettings",
    "KeySpec",
    "Keyring",
    "KeyringConfigError",
    "MalformedToken",
    "UnknownKey",
    "field_context",
    "load_or_create_key_file",
    "new_key_entry",
    "parse_keys",
]
