"""Which signing keys verifiers must still see: the active one, and retired ones whose
tokens may still be in flight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class KeyLifetime:
    kid: str
    activated_at: datetime
    retired_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.retired_at is None


def still_published(key: KeyLifetime, now: datetime, grace: timedelta) -> bool:
    """True while a token this key signed could still verify: the grace is the longest
    token lifetime plus the verifiers' leeway."""
    return key.retired_at is None or now < key.retired_at + grace


def published(keys: list[KeyLifetime], now: datetime, grace: timedelta) -> list[KeyLifetime]:
    """The keys to publish, the active one first, then the most recently retired."""
    kept = [key for key in keys if still_published(key, now, grace)]
    return sorted(kept, key=lambda key: (not key.active, -(key.retired_at or now).timestamp()))
