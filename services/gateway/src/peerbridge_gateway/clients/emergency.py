"""The emergency access port: break-the-glass disclosure of a referral in a medical emergency
(42 CFR 2.51), and the disclosing program's review of it, in the gateway's own types.

Who may is the referrals service's rule: a clinician of the referral's recipient or
requester organization discloses; the program's coordinators and supervisors list and
review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from peerbridge_platform.grpc import Caller

from .referrals import Referral


@dataclass(frozen=True)
class EmergencyRequest:
    referral_id: str
    nature_of_emergency: str
    recipient_facility: str = ""


@dataclass(frozen=True)
class EmergencyDisclosure:
    emergency_disclosure_id: str
    referral_id: str
    subject_member_id: str
    recipient_person_id: str
    recipient_organization_id: str
    recipient_facility: str
    disclosing_organization_id: str
    disclosed_at: datetime
    nature_of_emergency: str
    reviewed_at: datetime | None = None
    reviewed_by: str | None = None
    review_note: str | None = None


@dataclass(frozen=True)
class EmergencyAccess:
    referral: Referral
    disclosure: EmergencyDisclosure


@dataclass(frozen=True)
class EmergencyQuery:
    organization_id: str
    unreviewed_only: bool
    limit: int
    cursor: str | None = None


@dataclass(frozen=True)
class EmergencyPage:
    items: list[EmergencyDisclosure]
    next_cursor: str | None


class EmergencyClient(Protocol):
    """The referrals service's EmergencyAccessService. Failures raise `ServiceError`."""

    async def disclose(
        self, request: EmergencyRequest, *, caller: Caller, idempotency_key: str | None
    ) -> EmergencyAccess:
        """One `idempotency_key` of one caller always yields the same record."""
        ...

    async def list_disclosures(self, query: EmergencyQuery, *, caller: Caller) -> EmergencyPage: ...

    async def review(
        self, emergency_disclosure_id: str, note: str, *, caller: Caller
    ) -> EmergencyDisclosure: ...
