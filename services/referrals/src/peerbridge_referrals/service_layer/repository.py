"""The repository port: how handlers store and find referrals, whatever the storage."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ..domain.access_rules import Visibility
from ..domain.consent import Consent
from ..domain.consent_access import ConsentVisibility
from ..domain.disclosure import DisclosureEntry, DisclosureVisibility
from ..domain.events import ReferralStatusChanged
from ..domain.model import Referral
from ..domain.values import Status


class DuplicateRequestId(Exception):
    """Another referral already has this request id (possibly committed a moment ago)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"a referral with request id {request_id!r} exists")
        self.request_id = request_id


class StaleVersion(Exception):
    """The referral is no longer at the version the change was made from: another change
    committed in between."""

    def __init__(self, referral_id: UUID, version: int) -> None:
        super().__init__(f"referral {referral_id} is no longer at version {version}")
        self.referral_id = referral_id
        self.version = version


@dataclass(frozen=True)
class ReferralFilter:
    """Which referrals a listing returns; None means no restriction.

    `visible_to` is what the caller may see; the storage applies it in the query
    itself, so a page is never cut short by filtering after the fact.
    """

    subject_member_id: str | None = None
    status: Status | None = None
    visible_to: Visibility | None = None


@dataclass(frozen=True)
class Cursor:
    """A position in the newest-first order: the last referral (or consent, whose id is then
    in `referral_id`) of the previous page."""

    create_time: datetime
    referral_id: UUID


def listing_order_key(referral: Referral) -> tuple[datetime, UUID]:
    """Referrals are listed by this key, descending; the referral id breaks ties."""
    return (referral.create_time, referral.referral_id)


class ReferralRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, referral: Referral) -> None:
        """Store a new referral; raise DuplicateRequestId if its request id is taken."""

    @abc.abstractmethod
    async def get(self, referral_id: UUID) -> Referral | None: ...

    @abc.abstractmethod
    async def get_by_request_id(self, request_id: str) -> Referral | None: ...

    @abc.abstractmethod
    async def list(
        self, where: ReferralFilter, *, after: Cursor | None, limit: int
    ) -> list[Referral]:
        """Up to `limit` referrals matching `where`, newest first, strictly after `after`."""

    @abc.abstractmethod
    async def update_status(self, changed: ReferralStatusChanged) -> None:
        """Store the referral's new status, and its history row, if it is still at the version
        the change was made from (one less than the new one); otherwise raise StaleVersion."""


class DuplicateConsentRequest(Exception):
    """The caller already recorded a consent with this request id (possibly a moment ago)."""


class ConsentRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, consent: Consent) -> None:
        """Store a new consent; raise DuplicateConsentRequest if its recorder already used
        its request id."""

    @abc.abstractmethod
    async def get(self, consent_id: UUID) -> Consent | None: ...

    @abc.abstractmethod
    async def get_by_request_id(self, recorded_by: str, request_id: str) -> Consent | None: ...

    @abc.abstractmethod
    async def list_for_member(
        self,
        member_id: str,
        visible_to: ConsentVisibility,
        *,
        after: Cursor | None,
        limit: int,
    ) -> list[Consent]:
        """Up to `limit` of the member's consents the caller may see, newest first (by
        create time, then consent id), strictly after `after`."""

    @abc.abstractmethod
    async def active_for_member(self, member_id: str) -> list[Consent]:
        """The member's consents that are not revoked (expired ones included: the caller
        decides at which time they must hold)."""

    @abc.abstractmethod
    async def revoke(self, revoked: Consent) -> None:
        """Store the revocation if the consent is still active; otherwise raise
        StaleVersion (a concurrent revocation committed first)."""


class DisclosureLog(abc.ABC):
    """The accounting of disclosures: one entry per full view disclosed, written in the
    transaction that discloses it."""

    @abc.abstractmethod
    async def add(self, entry: DisclosureEntry) -> None: ...

    @abc.abstractmethod
    async def list_for_member(
        self,
        member_id: str,
        visible_to: DisclosureVisibility,
        *,
        after: DisclosureCursor | None,
        limit: int,
    ) -> list[DisclosureEntry]:
        """Up to `limit` of the member's entries the caller may read (the disclosing
        organization being the referral's requester), newest first (by disclosure time,
        then disclosure id), strictly after `after`; each with its `disclosure_id`."""


@dataclass(frozen=True)
class DisclosureCursor:
    """A position in the log's newest-first order: the last entry of the previous page."""

    disclosed_at: datetime
    disclosure_id: int
