"""The unit of work on PostgreSQL: one pooled connection, one transaction, its outbox rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction

from peerbridge_platform.audit import Auditor

from ..domain.events import DomainEvent
from ..service_layer.audit import Access
from ..service_layer.unit_of_work import UnitOfWork
from .audit_trail import SERVICE, record_allowed
from .postgres_consents import PostgresConsentRepository, PostgresDisclosureLog
from .postgres_crisis import PostgresCrisisRepository
from .postgres_emergency import PostgresEmergencyDisclosureRepository
from .postgres_notes import PostgresNoteRepository
from .postgres_repository import PostgresReferralRepository
from .postgres_worklist import PostgresWorklistRepository
from .reason_cipher import ReasonCipher

# Writes the integration events for one domain event on the given connection,
# inside its open transaction (the transactional outbox).
EventWriter = Callable[[PoolConnectionProxy, DomainEvent], Awaitable[None]]


class PostgresUnitOfWork(UnitOfWork):
    referrals: PostgresReferralRepository
    consents: PostgresConsentRepository
    disclosures: PostgresDisclosureLog
    emergency_disclosures: PostgresEmergencyDisclosureRepository
    crisis: PostgresCrisisRepository
    worklist: PostgresWorklistRepository
    notes: PostgresNoteRepository

    def __init__(
        self,
        pool: asyncpg.Pool,
        cipher: ReasonCipher,
        write_events: EventWriter,
        auditor: Auditor | None = None,
    ) -> None:
        self._pool = pool
        self._cipher = cipher
        self._write_events = write_events
        self._auditor = auditor or Auditor(SERVICE, pool=pool)
        self._connection: PoolConnectionProxy | None = None
        self._transaction: Transaction | None = None

    async def _begin(self) -> None:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already in use")
        connection = await self._pool.acquire()
        try:
            transaction = connection.transaction()
            await transaction.start()
        except BaseException:
            await self._pool.release(connection)
            raise
        self._connection, self._transaction = connection, transaction
        self.referrals = PostgresReferralRepository(connection, self._cipher)
        self.consents = PostgresConsentRepository(connection)
        self.disclosures = PostgresDisclosureLog(connection)
        self.emergency_disclosures = PostgresEmergencyDisclosureRepository(connection, self._cipher)
        self.crisis = PostgresCrisisRepository(connection)
        self.worklist = PostgresWorklistRepository(connection)
        self.notes = PostgresNoteRepository(connection, self._cipher)

    async def _end(self) -> None:
        connection, transaction = self._connection, self._transaction
        self._connection = self._transaction = None
        if connection is None:
            return
        try:
            if transaction is not None:
                await transaction.rollback()
        finally:
            await self._pool.release(connection)

    async def publish(self, event: DomainEvent) -> None:
        await self._write_events(self._open_connection(), event)

    async def record_access(self, access: Access) -> None:
        await record_allowed(self._auditor, self._open_connection(), access)

    async def commit(self) -> None:
        if self._transaction is None:
            raise RuntimeError("commit outside `async with`")
        transaction, self._transaction = self._transaction, None
        await transaction.commit()

    def _open_connection(self) -> PoolConnectionProxy:
        if self._connection is None or self._transaction is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection
