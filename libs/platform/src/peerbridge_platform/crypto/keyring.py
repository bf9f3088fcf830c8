"""Field-level authenticated encryption (AES-256-GCM) under a rotating set of keys."""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import token_format as tokens
from .errors import DecryptionFailed, KeyringConfigError, UnknownKey
from .keyspec import KeySpec, parse_keys


class Keyring:
    """Seals fields under the active (first) key and opens them under any key it holds.

    Rotation: put a new key first and keep the old ones after it. New tokens
    use the new key; old tokens still open; `needs_rotation` tells which to
    re-encrypt (`reencrypt`) before an old key is removed.

    Nonces are 12 random bytes per token. That is safe for about 2**32 tokens
    per key, far beyond what one key seals between rotations here.
    """

    __slots__ = ("_active", "_ciphers")

    def __init__(self, keys: Sequence[KeySpec]) -> None:
        if not keys:
            raise KeyringConfigError("a keyring needs at least one key")
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in keys}
        if len(self._ciphers) != len(keys):
            raise KeyringConfigError("key ids must be unique")
        self._active = keys[0].key_id

    @classmethod
    def from_setting(cls, value: str) -> Keyring:
        """The keyring PEERBRIDGE_ENCRYPTION_KEYS describes (`kid:base64key,...`)."""
        return cls(parse_keys(value))

    @property
    def active_key_id(self) -> str:
        return self._active

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id, the active one first."""
        return tuple(self._ciphers)

    @property
    def active_prefix(self) -> bytes:
        """The bytes every token sealed under the active key begins with.

        Lets a store find tokens that need rotation with a query, without opening them.
        """
        return tokens.header(self._active)

    def encrypt(self, plaintext: bytes, *, context: bytes) -> bytes:
        """A token holding `plaintext`, which only opens with the same `context`."""
        header = tokens.header(self._active)
        nonce = os.urandom(tokens.NONCE_BYTES)
        sealed = self._ciphers[self._active].encrypt(nonce, plaintext, header + context)
        return header + nonce + sealed

    def decrypt(self, token: bytes, *, context: bytes) -> bytes:
        """The plaintext of `token`; UnknownKey or DecryptionFailed (never with plaintext)."""
        parsed = tokens.parse(token)
        cipher = self._ciphers.get(parsed.key_id)
        if cipher is None:
            raise UnknownKey(parsed.key_id)
        try:
            return cipher.decrypt(parsed.nonce, parsed.ciphertext, parsed.header + context)
        except InvalidTag:
            raise DecryptionFailed(
                f"the token does not authenticate under key {parsed.key_id!r} for this context"
            ) from None

    def needs_rotation(self, token: bytes) -> bool:
        """Whether `token` was sealed under another key than the active one."""
        return tokens.parse(token).key_id != self._active

    def reencrypt(self, token: bytes, *, context: bytes) -> bytes:
        """`token` sealed under the active key (the same token when it already is)."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(self.decrypt(token, context=context), context=context)

    def __repr__(self) -> str:
        # Key ids only: a keyring in a traceback or log must not show key bytes.
        return f"Keyring(active={self._active!r}, key_ids={self.key_ids!r})"
