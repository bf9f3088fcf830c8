"""The use cases with their dependencies bound: what every entry point calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..domain.commands import CreateReferral
from ..domain.model import Referral
from . import handlers
from .pagination import PageLimits
from .queries import GetReferral, ListReferrals, ReferralPage
from .unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ReferralsApplication:
    """Each call gets a fresh unit of work, so concurrent calls never share a transaction."""

    uow_factory: Callable[[], UnitOfWork]
    clock: handlers.Clock
    new_id: handlers.IdFactory
    page_limits: PageLimits

    async def create_referral(self, command: CreateReferral) -> Referral:
        return await handlers.create_referral(
            command, self.uow_factory(), clock=self.clock, new_id=self.new_id
        )

    async def get_referral(self, query: GetReferral) -> Referral:
        return await handlers.get_referral(query, self.uow_factory())

    async def list_referrals(self, query: ListReferrals) -> ReferralPage:
        return await handlers.list_referrals(query, self.uow_factory(), limits=self.page_limits)
