"""The overdue sweeper: a task of the referrals process that raises newly overdue
referrals, batch by batch. Safe with several replicas (see service_layer.worklist_handlers).

It logs counts only, never a member or a referral's content.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from peerbridge_platform.logging import get_logger

from ..bootstrap import utc_now
from ..service_layer.audit import DeniedAccessLog
from ..service_layer.handlers import Clock
from ..service_layer.pagination import PageLimits
from ..service_layer.unit_of_work import UnitOfWork
from ..service_layer.worklist_handlers import SweepSettings, WorklistApplication, sweep_overdue
from ..worklist_settings import WorklistSettings
from .readiness import stop_watching

log = get_logger(__name__)


class OverdueSweeper:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        settings: SweepSettings,
        *,
        clock: Clock,
        interval_s: float,
    ) -> None:
        self._uow_factory = uow_factory
        self._settings = settings
        self._clock = clock
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="referrals-overdue-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_watching(self._task)
            self._task = None

    async def sweep_once(self) -> int:
        """Raise every referral overdue now, a batch per transaction; the number raised."""
        total = 0
        while True:
            raised = await sweep_overdue(
                self._uow_factory(), settings=self._settings, clock=self._clock
            )
            total += raised
            if raised < self._settings.batch_size:
                return total

    async def _run(self) -> None:
        log.info("overdue sweeper started", interval_s=self._interval_s)
        while True:
            try:
                raised = await self.sweep_once()
                if raised:
                    log.info("overdue referrals raised", count=raised)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a failed sweep is retried at the next interval
                log.warning("overdue sweep failed", error_type=type(error).__name__)
            await asyncio.sleep(self._interval_s)


def worklist_parts(
    settings: WorklistSettings,
    uow_factory: Callable[[], UnitOfWork],
    denials: DeniedAccessLog,
    page_limits: PageLimits,
    clock: Clock = utc_now,
) -> tuple[WorklistApplication, OverdueSweeper | None]:
    """The worklist's use cases and the sweeper (None when its interval is 0: switched off)."""
    application = WorklistApplication(
        uow_factory, denials, clock, page_limits, settings.worklist_closed_recently
    )
    sweep = SweepSettings(settings.overdue_windows(), settings.overdue_sweep_batch)
    interval = settings.overdue_sweep_interval_s
    sweeper = OverdueSweeper(uow_factory, sweep, clock=clock, interval_s=interval)
    return application, sweeper if interval > 0 else None
