"""Domain events: facts about referrals, named in the past tense."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Referral


class DomainEvent:
    """Base of every referrals domain event."""


@dataclass(frozen=True)
class ReferralCreated(DomainEvent):
    """A referral was created; carries the referral as it was stored."""

    referral: Referral
