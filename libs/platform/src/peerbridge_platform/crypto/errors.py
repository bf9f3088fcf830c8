"""What can go wrong with field encryption. No message ever carries plaintext or key bytes."""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every field-encryption error."""


class KeyringConfigError(CryptoError, ValueError):
    """PEERBRIDGE_ENCRYPTION_KEYS is missing or malformed.

    A ValueError too, so settings validation reports it against the variable.
    """


class UnknownKey(CryptoError):
    """The token was sealed under a key id that is not in the keyring (retired too early?)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no key {key_id!r} in the keyring; was it removed while data used it?")
        self.key_id = key_id


class DecryptionFailed(CryptoError):
    """The token does not authenticate: tampered, truncated, or opened with the wrong context."""


class MalformedToken(DecryptionFailed):
    """The bytes are not a token this version understands."""
