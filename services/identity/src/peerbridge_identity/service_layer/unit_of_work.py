"""The unit of work port: one transaction holding state changes and the events they cause."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

from ..domain.access_rules import Access
from ..domain.events import DomainEvent
from .repository import (
    CertificationRepository,
    ClientRepository,
    CredentialRepository,
    EligibilityRepository,
    OrganizationRepository,
    PatientLinkRepository,
    PersonRepository,
    RequestLog,
    SupervisionRepository,
    TrainingRepository,
)


class UnitOfWork(abc.ABC):
    """Use as `async with uow:`; nothing is kept unless `commit()` is called inside.

    The same object may be entered again after it exits, for a new transaction.
    """

    organizations: OrganizationRepository
    persons: PersonRepository
    clients: ClientRepository
    credentials: CredentialRepository
    training: TrainingRepository
    certifications: CertificationRepository
    supervision: SupervisionRepository
    eligibility: EligibilityRepository
    requests: RequestLog
    patients: PatientLinkRepository

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
    async def record_denied(self, access: Access) -> None:
        """Audit a refused attempt in a transaction of its own, committed at once.

        Call it outside `async with`: the refused request's own transaction has
        rolled back by then, and holds no connection meanwhile.
        """

    @abc.abstractmethod
    async def commit(self) -> None: ...
