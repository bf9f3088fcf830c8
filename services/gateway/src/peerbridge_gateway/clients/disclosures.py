"""The disclosures port: a member's accounting of disclosures (42 CFR 2.24), as the gateway
asks the referrals service for it, in its own types.

Who may read which member's log is the service's rule: a caller outside it gets an empty
page, never an error, so the gateway cannot tell whether a log exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from peerbridge_platform.grpc import Caller


@dataclass(frozen=True)
class Disclosure:
    """One entry: who received what of the member's records, when, under which consent."""

    disclosure_id: str
    referral_id: str
    recipient_organization_id: str
    consent_id: str
    # The HL7 v3 PurposeOfUse code, as the service gives it (e.g. "TREAT").
    purpose: str
    category: str
    description: str
    disclosed_at: datetime


@dataclass(frozen=True)
class DisclosureQuery:
    subject_member_id: str
    limit: int
    cursor: str | None = None


@dataclass(frozen=True)
class DisclosurePage:
    items: list[Disclosure]
    next_cursor: str | None


class DisclosuresClient(Protocol):
    """The disclosure log in the referrals service. Failures raise `ServiceError`."""

    async def list_disclosures(
        self, query: DisclosureQuery, *, caller: Caller
    ) -> DisclosurePage: ...
