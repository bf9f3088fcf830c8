"""The crisis repository in memory, for unit tests: writes are kept on commit only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from ..domain.crisis import ClinicalContact, FlagStatus, OnCallShift, RiskFlag
from ..service_layer.crisis_repository import CrisisRepository, DuplicateFlagRequest
from ..service_layer.repository import Cursor


@dataclass
class InMemoryCrisisState:
    contacts: dict[tuple[str, str], ClinicalContact] = field(default_factory=dict)
    shifts: list[OnCallShift] = field(default_factory=list)
    flags: dict[UUID, RiskFlag] = field(default_factory=dict)


class InMemoryCrisisRepository(CrisisRepository):
    def __init__(self, state: InMemoryCrisisState) -> None:
        self._state = state
        self.contacts: dict[tuple[str, str], ClinicalContact] = {}
        self.shifts: list[OnCallShift] = []
        self.flags: dict[UUID, RiskFlag] = {}

    def _flags(self) -> dict[UUID, RiskFlag]:
        return {**self._state.flags, **self.flags}

    async def get_contact(self, member_id: str, program_id: str) -> ClinicalContact | None:
        key = (member_id, program_id)
        return self.contacts.get(key) or self._state.contacts.get(key)

    async def set_contact(self, contact: ClinicalContact) -> None:
        self.contacts[(contact.member_id, contact.program_id)] = contact

    async def add_shift(self, shift: OnCallShift) -> None:
        self.shifts.append(shift)

    async def shifts_at(self, program_id: str, at: datetime) -> list[OnCallShift]:
        every = [*self._state.shifts, *self.shifts]
        return [s for s in every if s.program_id == program_id and s.covers(at)]

    async def add_flag(self, flag: RiskFlag) -> None:
        if flag.request_id is not None and await self.get_flag_by_request(
            flag.raised_by, flag.request_id
        ):
            raise DuplicateFlagRequest(flag.request_id)
        self.flags[flag.flag_id] = flag

    async def get_flag(self, flag_id: UUID) -> RiskFlag | None:
        return self._flags().get(flag_id)

    async def get_flag_by_request(self, raised_by: str, request_id: str) -> RiskFlag | None:
        return next(
            (
                f
                for f in self._flags().values()
                if f.raised_by == raised_by and f.request_id == request_id
            ),
            None,
        )

    async def acknowledge(self, flag: RiskFlag) -> bool:
        current = self._flags().get(flag.flag_id)
        if current is None or current.status is not FlagStatus.UNHANDLED:
            return False
        self.flags[flag.flag_id] = flag
        return True

    async def list_flags(
        self, program_id: str, *, unhandled_only: bool, after: Cursor | None, limit: int
    ) -> list[RiskFlag]:
        found = [
            f
            for f in self._flags().values()
            if f.details.program_id == program_id
            and (not unhandled_only or f.status is FlagStatus.UNHANDLED)
            and (
                after is None or (f.raise_time, f.flag_id) < (after.create_time, after.referral_id)
            )
        ]
        found.sort(key=lambda f: (f.raise_time, f.flag_id), reverse=True)
        return found[:limit]

    def commit(self) -> None:
        self._state.contacts.update(self.contacts)
        self._state.shifts.extend(self.shifts)
        self._state.flags.update(self.flags)
        self.contacts, self.shifts, self.flags = {}, [], {}
