"""In-memory unit of work and repository, for unit tests and for wiring without a database.

They keep the promises of the asyncpg adapters (the same contract tests run
against both): changes and events become visible only on commit, a request
id is unique, listings are newest first. Like a unique index, a second
insert of a request id waits for the first one's transaction to end, and
fails only if that transaction commits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from ..domain.consent import Consent
from ..domain.consent_access import ConsentVisibility
from ..domain.disclosure import DisclosureEntry, DisclosureVisibility
from ..domain.events import DomainEvent, ReferralStatusChanged
from ..domain.model import Referral
from ..domain.notes import Note
from ..service_layer.audit import Access, DeniedAccessLog
from ..service_layer.repository import (
    ConsentRepository,
    Cursor,
    DisclosureCursor,
    DisclosureLog,
    DuplicateConsentRequest,
    DuplicateRequestId,
    ReferralFilter,
    ReferralRepository,
    StaleVersion,
    listing_order_key,
)
from ..service_layer.unit_of_work import UnitOfWork
from .in_memory_crisis import InMemoryCrisisRepository, InMemoryCrisisState
from .in_memory_notes import InMemoryNoteRepository


@dataclass
class InMemoryStore:
    """What has been committed; shared by every unit of work made over it."""

    referrals: dict[UUID, Referral] = field(default_factory=dict)
    consents: dict[UUID, Consent] = field(default_factory=dict)
    disclosures: list[DisclosureEntry] = field(default_factory=list)
    crisis: InMemoryCrisisState = field(default_factory=InMemoryCrisisState)
    notes: dict[UUID, Note] = field(default_factory=dict)
    # The status history, as the changes committed.
    status_changes: list[ReferralStatusChanged] = field(default_factory=list)
    published: list[DomainEvent] = field(default_factory=list)
    # The audit trail: allowed accesses as they commit, refusals at once.
    audited: list[Access] = field(default_factory=list)
    denied: list[Access] = field(default_factory=list)
    commits: int = 0
    # Request ids inserted by open units of work; each future says whether its
    # owner committed.
    claims: dict[str, asyncio.Future[bool]] = field(default_factory=dict)


class InMemoryReferralRepository(ReferralRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        # Referrals written (added or changed) in this transaction.
        self.added: dict[UUID, Referral] = {}
        self.status_changes: list[ReferralStatusChanged] = []
        self.claims: dict[str, asyncio.Future[bool]] = {}

    def _visible(self) -> dict[UUID, Referral]:
        return self._store.referrals | self.added

    async def add(self, referral: Referral) -> None:
        if referral.referral_id in self._visible():
            raise ValueError(f"referral {referral.referral_id} exists")
        if referral.request_id is not None:
            await self._claim(referral.request_id)
        self.added[referral.referral_id] = referral

    async def _claim(self, request_id: str) -> None:
        while True:
            if any(r.request_id == request_id for r in self._visible().values()):
                raise DuplicateRequestId(request_id)
            other = self._store.claims.get(request_id)
            if other is None:
                break
            await asyncio.shield(other)  # the other's outcome; then look again
        claim = asyncio.get_running_loop().create_future()
        self._store.claims[request_id] = claim
        self.claims[request_id] = claim

    def settle_claims(self, committed: bool) -> None:
        for request_id, claim in self.claims.items():
            del self._store.claims[request_id]
            claim.set_result(committed)
        self.claims = {}

    async def update_status(self, changed: ReferralStatusChanged) -> None:
        referral = changed.referral
        current = self._visible().get(referral.referral_id)
        if current is None or current.version != referral.version - 1:
            raise StaleVersion(referral.referral_id, referral.version - 1)
        self.added[referral.referral_id] = referral
        self.status_changes.append(changed)

    async def get(self, referral_id: UUID) -> Referral | None:
        return self._visible().get(referral_id)

    async def get_by_request_id(self, request_id: str) -> Referral | None:
        return next((r for r in self._visible().values() if r.request_id == request_id), None)

    async def list(
        self, where: ReferralFilter, *, after: Cursor | None, limit: int
    ) -> list[Referral]:
        matching = [r for r in self._visible().values() if _matches(r, where, after)]
        matching.sort(key=listing_order_key, reverse=True)
        return matching[:limit]


def _matches(referral: Referral, where: ReferralFilter, after: Cursor | None) -> bool:
    if (
        where.subject_member_id is not None
        and referral.subject_member_id != where.subject_member_id
    ):
        return False
    if where.status is not None and referral.status is not where.status:
        return False
    if where.visible_to is not None and not where.visible_to.admits(referral):
        return False
    return after is None or listing_order_key(referral) < (after.create_time, after.referral_id)


class InMemoryConsentRepository(ConsentRepository):
    """Consents written in this transaction stay in `written` until commit. Concurrent
    duplicates are not modelled here: the PostgreSQL contract tests cover them."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.written: dict[UUID, Consent] = {}

    def _visible(self) -> dict[UUID, Consent]:
        return self._store.consents | self.written

    async def add(self, consent: Consent) -> None:
        if consent.request_id is not None and (
            await self.get_by_request_id(consent.recorded_by, consent.request_id)
        ):
            raise DuplicateConsentRequest(consent.request_id)
        self.written[consent.consent_id] = consent

    async def get(self, consent_id: UUID) -> Consent | None:
        return self._visible().get(consent_id)

    async def get_by_request_id(self, recorded_by: str, request_id: str) -> Consent | None:
        return next(
            (
                c
                for c in self._visible().values()
                if c.recorded_by == recorded_by and c.request_id == request_id
            ),
            None,
        )

    async def list_for_member(
        self,
        member_id: str,
        visible_to: ConsentVisibility,
        *,
        after: Cursor | None,
        limit: int,
    ) -> list[Consent]:
        found = [
            c
            for c in self._visible().values()
            if c.subject_member_id == member_id
            and visible_to.admits(c)
            and (
                after is None
                or (c.create_time, c.consent_id) < (after.create_time, after.referral_id)
            )
        ]
        found.sort(key=lambda c: (c.create_time, c.consent_id), reverse=True)
        return found[:limit]

    async def active_for_member(self, member_id: str) -> list[Consent]:
        return [
            c
            for c in self._visible().values()
            if c.subject_member_id == member_id and c.revoke_time is None
        ]

    async def revoke(self, revoked: Consent) -> None:
        current = self._visible().get(revoked.consent_id)
        if current is None or current.version != revoked.version - 1:
            raise StaleVersion(revoked.consent_id, revoked.version - 1)
        self.written[revoked.consent_id] = revoked


class InMemoryDisclosureLog(DisclosureLog):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.written: list[DisclosureEntry] = []

    async def add(self, entry: DisclosureEntry) -> None:
        self.written.append(entry)

    async def list_for_member(
        self,
        member_id: str,
        visible_to: DisclosureVisibility,
        *,
        after: DisclosureCursor | None,
        limit: int,
    ) -> list[DisclosureEntry]:
        referrals = self._store.referrals
        found = [
            e
            for e in self._store.disclosures
            if e.subject_member_id == member_id
            and visible_to.admits(e, referrals[UUID(e.referral_id)].requester.organization_id)
            and (after is None or _log_position(e) < (after.disclosed_at, after.disclosure_id))
        ]
        found.sort(key=_log_position, reverse=True)
        return found[:limit]

    def commit(self) -> None:
        """Store what was written, numbered in order as an identity column would."""
        stored = self._store.disclosures
        for entry in self.written:
            stored.append(replace(entry, disclosure_id=len(stored) + 1))


def _log_position(entry: DisclosureEntry) -> tuple[datetime, int]:
    return (entry.disclosed_at, entry.disclosure_id or 0)


class InMemoryUnitOfWork(UnitOfWork):
    referrals: InMemoryReferralRepository
    consents: InMemoryConsentRepository
    disclosures: InMemoryDisclosureLog
    crisis: InMemoryCrisisRepository
    notes: InMemoryNoteRepository

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.referrals = InMemoryReferralRepository(store)
        self.consents = InMemoryConsentRepository(store)
        self.disclosures = InMemoryDisclosureLog(store)
        self.crisis = InMemoryCrisisRepository(store.crisis)
        self.notes = InMemoryNoteRepository(store.notes)
        self._pending_events: list[DomainEvent] = []
        self._pending_accesses: list[Access] = []

    async def _begin(self) -> None:
        self.referrals = InMemoryReferralRepository(self.store)
        self.consents = InMemoryConsentRepository(self.store)
        self.disclosures = InMemoryDisclosureLog(self.store)
        self.crisis = InMemoryCrisisRepository(self.store.crisis)
        self.notes = InMemoryNoteRepository(self.store.notes)
        self._forget_pending()

    async def _end(self) -> None:
        self.referrals.settle_claims(committed=False)
        self._forget_pending()

    def _forget_pending(self) -> None:
        self.referrals.added = {}
        self.referrals.status_changes = []
        self.consents.written = {}
        self.disclosures.written = []
        self.notes.written = {}
        self._pending_events = []
        self._pending_accesses = []

    async def publish(self, event: DomainEvent) -> None:
        self._pending_events.append(event)

    async def record_access(self, access: Access) -> None:
        self._pending_accesses.append(access)

    async def commit(self) -> None:
        self.store.referrals.update(self.referrals.added)
        self.store.status_changes.extend(self.referrals.status_changes)
        self.store.consents.update(self.consents.written)
        self.disclosures.commit()
        self.crisis.commit()
        self.notes.commit()
        self.referrals.settle_claims(committed=True)
        self.store.published.extend(self._pending_events)
        self.store.audited.extend(self._pending_accesses)
        self.store.commits += 1
        self._forget_pending()


class InMemoryDeniedAccessLog(DeniedAccessLog):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    async def record_denied(self, access: Access) -> None:
        self.store.denied.append(access)
