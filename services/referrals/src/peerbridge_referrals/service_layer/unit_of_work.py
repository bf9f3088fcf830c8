"""The unit of work port: one transaction holding state changes and the events they cause."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

from ..domain.events import DomainEvent
from .audit import Access
from .crisis_repository import CrisisRepository
from .emergency_repository import EmergencyDisclosureRepository
from .notes_repository import NoteRepository
from .repository import ConsentRepository, DisclosureLog, ReferralRepository
from .worklist_repository import WorklistRepository


class UnitOfWork(abc.ABC):
    """Use as `async with uow:`; nothing is kept unless `commit()` is called inside.

    The same object may be entered again after it exits, for a new transaction.
    """

    referrals: ReferralRepository
    consents: ConsentRepository
    disclosures: DisclosureLog
    emergency_disclosures: EmergencyDisclosureRepository
    worklist: WorklistRepository
    crisis: CrisisRepository
    notes: NoteRepository

    async def __aenter__(self) -> Self:
        await self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._end()

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    async def _end(self) -> None:
        """Roll back whatever was not committed and release resources."""

    @abc.abstractmethod
    async def publish(self, event: DomainEvent) -> None:
        """Record `event` with this transaction: it is published if, and only if, it commits."""

    @abc.abstractmethod
    async def record_access(self, access: Access) -> None:
        """Audit an allowed access with this transaction: on record if, and only if, it commits."""

    @abc.abstractmethod
    async def commit(self) -> None: ...
