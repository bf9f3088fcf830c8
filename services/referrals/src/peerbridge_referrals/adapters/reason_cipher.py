"""The referral's free-text reason, sealed at rest and bound to its referral id."""

from __future__ import annotations

from uuid import UUID

from peerbridge_platform.crypto import Keyring, field_context


class ReasonCipher:
    """Seals and opens reasons (42 CFR Part 2 protected free text).

    The referral id is the associated data: a sealed reason copied onto
    another referral's row does not open there.
    """

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def seal(self, referral_id: UUID, reason: str) -> bytes:
        return self._keyring.encrypt(reason.encode(), context=_context(referral_id))

    def open(self, referral_id: UUID, sealed: bytes) -> str:
        return self._keyring.decrypt(sealed, context=_context(referral_id)).decode()

    def reseal(self, referral_id: UUID, sealed: bytes) -> bytes:
        """`sealed` under the active key (unchanged when it already is)."""
        return self._keyring.reencrypt(sealed, context=_context(referral_id))

    @property
    def active_prefix(self) -> bytes:
        """Reasons sealed under the active key begin with these bytes; others need resealing."""
        return self._keyring.active_prefix


def _context(referral_id: UUID) -> bytes:
    return field_context("referrals", "referrals", "reason", str(referral_id))
