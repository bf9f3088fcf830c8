"""Which signing keys verifiers must see, and which one signs.

A rotation pre-publishes: the new key is in the JWKS from the moment of the
rotation but signs only from `activated_at`, a little later. Verifiers that
cache the JWKS and refresh it on an unknown `kid` at most every so often
(30 s for ours) then never meet a token whose key they could not fetch yet,
provided the pre-publication lasts at least that interval. The key it
replaces signs until then and stays published until every token it signed
has expired (`grace`: the longest token lifetime plus the verifiers' leeway).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class KeyLifetime:
    kid: str
    activated_at: datetime
    retired_at: datetime | None = None

    def signs_at(self, now: datetime) -> bool:
        return self.activated_at <= now and (self.retired_at is None or now < self.retired_at)

    def pending_at(self, now: datetime) -> bool:
        return now < self.activated_at


def still_published(key: KeyLifetime, now: datetime, grace: timedelta) -> bool:
    """True while a token this key signed could still verify, or before it signs at all."""
    return key.retired_at is None or now < key.retired_at + grace


def published(keys: list[KeyLifetime], now: datetime, grace: timedelta) -> list[KeyLifetime]:
    """The keys to publish: the one signing now first, then those about to sign, then the
    most recently retired."""
    kept = [key for key in keys if still_published(key, now, grace)]

    def order(key: KeyLifetime) -> tuple[int, float]:
        if key.signs_at(now):
            return (0, 0.0)
        if key.pending_at(now):
            return (1, key.activated_at.timestamp())
        return (2, -(key.retired_at or now).timestamp())

    return sorted(kept, key=order)
