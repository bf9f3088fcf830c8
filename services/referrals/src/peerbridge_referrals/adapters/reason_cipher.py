"""A referral's free texts (reason, status reason, outcome), sealed at rest and bound to
their referral id and field."""

from __future__ import annotations

from uuid import UUID

from peerbridge_platform.crypto import Keyring, field_context

REASON = "reason"
STATUS_REASON = "status_reason"
OUTCOME = "outcome"


class ReasonCipher:
    """Seals and opens reasons (42 CFR Part 2 protected free text).

    The referral id and the field name are the associated data: a sealed
    text copied onto another referral's row, or into another field, does not
    open there. `field` is one of REASON, STATUS_REASON, OUTCOME.
    """

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def seal(self, referral_id: UUID, text: str, field: str = REASON) -> bytes:
        return self._keyring.encrypt(text.encode(), context=_context(referral_id, field))

    def open(self, referral_id: UUID, sealed: bytes, field: str = REASON) -> str:
        return self._keyring.decrypt(sealed, context=_context(referral_id, field)).decode()

    def seal_optional(self, referral_id: UUID, text: str | None, field: str) -> bytes | None:
        return None if text is None else self.seal(referral_id, text, field)

    def open_optional(self, referral_id: UUID, sealed: bytes | None, field: str) -> str | None:
        return None if sealed is None else self.open(referral_id, bytes(sealed), field)

    def reseal(self, referral_id: UUID, sealed: bytes, field: str = REASON) -> bytes:
        """`sealed` under the active key (unchanged when it already is)."""
        return self._keyring.reencrypt(sealed, context=_context(referral_id, field))

    @property
    def active_prefix(self) -> bytes:
        """Reasons sealed under the active key begin with these bytes; others need resealing."""
        return self._keyring.active_prefix


def _context(referral_id: UUID, field: str) -> bytes:
    return field_context("referrals", "referrals", field, str(referral_id))
