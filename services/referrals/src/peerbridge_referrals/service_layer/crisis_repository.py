"""The crisis storage port: clinical contacts, on-call entries and risk flags, in the unit of
work's transaction."""

from __future__ import annotations

import abc
from datetime import datetime
from uuid import UUID

from ..domain.crisis import ClinicalContact, OnCallShift, RiskFlag
from .repository import Cursor


class DuplicateFlagRequest(Exception):
    """Another flag of this caller already holds this request id."""


class CrisisRepository(abc.ABC):
    @abc.abstractmethod
    async def get_contact(self, member_id: str, program_id: str) -> ClinicalContact | None: ...

    @abc.abstractmethod
    async def set_contact(self, contact: ClinicalContact) -> None:
        """Record `contact`, replacing the member's earlier one for the program."""

    @abc.abstractmethod
    async def add_shift(self, shift: OnCallShift) -> None: ...

    @abc.abstractmethod
    async def shifts_at(self, program_id: str, at: datetime) -> list[OnCallShift]:
        """The program's on-call entries whose period holds `at`."""

    @abc.abstractmethod
    async def add_flag(self, flag: RiskFlag) -> None:
        """Raises DuplicateFlagRequest when the raiser already used the request id."""

    @abc.abstractmethod
    async def get_flag(self, flag_id: UUID) -> RiskFlag | None: ...

    @abc.abstractmethod
    async def get_flag_by_request(self, raised_by: str, request_id: str) -> RiskFlag | None: ...

    @abc.abstractmethod
    async def acknowledge(self, flag: RiskFlag) -> bool:
        """Store the acknowledgement; False when the flag was acknowledged meanwhile."""

    @abc.abstractmethod
    async def list_flags(
        self, program_id: str, *, unhandled_only: bool, after: Cursor | None, limit: int
    ) -> list[RiskFlag]:
        """Newest first by (raise_time, flag_id); the cursor's id is a flag id."""
