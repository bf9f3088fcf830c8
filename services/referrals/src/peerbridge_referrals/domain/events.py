"""Domain events: facts about referrals, named in the past tense."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .consent import Consent
    from .disclosure import Disclosure
    from .lifecycle import Actor
    from .model import Referral
    from .values import Status


class DomainEvent:
    """Base of every referrals domain event."""


@dataclass(frozen=True)
class ReferralCreated(DomainEvent):
    """A referral was created; carries the referral as it was stored, and what of it may
    reach the recipient (set by the handler; None only outside the service)."""

    referral: Referral
    disclosure: Disclosure | None = None


@dataclass(frozen=True)
class ReferralStatusChanged(DomainEvent):
    """A referral's status changed; carries the referral after the change and who made it."""

    referral: Referral
    previous_status: Status
    changed_by: Actor
    disclosure: Disclosure | None = None


@dataclass(frozen=True)
class ConsentGiven(DomainEvent):
    """A member's consent was recorded; carries it as stored."""

    consent: Consent


@dataclass(frozen=True)
class ConsentRevoked(DomainEvent):
    """A consent was revoked; carries it after the revocation."""

    consent: Consent
