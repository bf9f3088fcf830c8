"""What every handler may depend on besides storage: time, ids, and the eligibility window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from ..domain.eligibility import DEFAULT_WARNING_DAYS

Clock = Callable[[], datetime]
IdFactory = Callable[[], UUID]


@dataclass(frozen=True)
class HandlerContext:
    clock: Clock
    new_id: IdFactory
    # Eligible supporters are EXPIRING_SOON when something lapses within this many days.
    warning_days: int = DEFAULT_WARNING_DAYS

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        # One calendar for every program: UTC. Dates of certifications and
        # training carry no zone, and a day's difference at the edges is
        # covered by the warning window.
        return self.clock().astimezone(UTC).date()
