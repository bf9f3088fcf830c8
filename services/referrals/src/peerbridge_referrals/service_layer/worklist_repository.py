"""The worklist's storage port: overdue states raised once, and an organization's worklist."""

from __future__ import annotations

import abc
from datetime import datetime
from uuid import UUID

from ..domain.overdue import OverdueState, OverdueWindows, WaitingReferral
from ..domain.worklist import WorklistItem
from .repository import Cursor


class WorklistRepository(abc.ABC):
    @abc.abstractmethod
    async def claim_due(
        self, windows: OverdueWindows, now: datetime, limit: int
    ) -> list[WaitingReferral]:
        """Up to `limit` referrals whose window ended by `now` and whose overdue state is not
        yet raised, earliest due first, locked for this transaction; rows another
        transaction holds are skipped, so several sweepers share the work."""

    @abc.abstractmethod
    async def raise_overdue(self, state: OverdueState, detect_time: datetime) -> bool:
        """Keep `state` as raised; False when it already was (it is raised once)."""

    @abc.abstractmethod
    async def list_items(
        self,
        organization_id: str,
        *,
        closed_since: datetime,
        after: Cursor | None,
        limit: int,
    ) -> list[WorklistItem]:
        """Up to `limit` items of the organization's worklist, oldest `item_time` first (the
        referral id breaks ties), strictly after `after`: overdue referrals still in the
        overdue status version, and its requests closed since `closed_since`, not seen."""

    @abc.abstractmethod
    async def mark_seen(
        self, organization_id: str, referral_id: UUID, *, by: str, now: datetime
    ) -> str | None:
        """Mark the organization's closed-loop item for the referral seen (again: no change)
        and return the referred member's id; None when the organization requested no such
        closed referral."""
