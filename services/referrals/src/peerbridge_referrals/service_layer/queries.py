"""Queries: questions from outside, in plain values, not yet checked."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.consent import Consent
from ..domain.disclosure import DisclosureEntry
from ..domain.model import Referral
from ..domain.read_gate import ReadDisclosure


@dataclass(frozen=True)
class GetReferral:
    referral_id: str


@dataclass(frozen=True)
class ListReferrals:
    page_size: int = 0
    page_token: str = ""
    subject_member_id: str | None = None
    # A status name; "" when the caller set the filter without a value.
    status: str | None = None


@dataclass(frozen=True)
class ReferralPage:
    referrals: list[Referral]
    next_page_token: str
    # What each read returned of the referral at the same place, and why.
    disclosures: list[ReadDisclosure] = field(default_factory=list)


@dataclass(frozen=True)
class GetConsent:
    consent_id: str


@dataclass(frozen=True)
class ListConsents:
    subject_member_id: str
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class ConsentPage:
    consents: list[Consent]
    next_page_token: str


@dataclass(frozen=True)
class ListDisclosures:
    subject_member_id: str
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class DisclosurePage:
    disclosures: list[DisclosureEntry]
    next_page_token: str
