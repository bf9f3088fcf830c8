"""Associated data naming where a ciphertext belongs, so it cannot be moved elsewhere."""

from __future__ import annotations

_LENGTH_BYTES = 4


def field_context(*parts: str) -> bytes:
    """Unambiguous bytes for e.g. `("referrals", "reason", referral_id)`.

    Each part is length-prefixed, so `("ab", "c")` and `("a", "bc")` differ:
    a ciphertext bound to one row never authenticates for another.
    """
    encoded = bytearray()
    for part in parts:
        data = part.encode()
        encoded += len(data).to_bytes(_LENGTH_BYTES, "big")
        encoded += data
    return bytes(encoded)
