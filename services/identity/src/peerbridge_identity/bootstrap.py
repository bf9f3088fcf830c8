"""The one place that wires the service: real adapters by default, fakes from tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

from .adapters.outbox_writer import write_to_outbox
from .adapters.postgres_unit_of_work import EventWriter, PostgresUnitOfWork
from .domain.eligibility import DEFAULT_WARNING_DAYS
from .service_layer.application import IdentityApplication
from .service_layer.context import Clock, HandlerContext, IdFactory
from .service_layer.pagination import PageLimits
from .service_layer.unit_of_work import UnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


def bootstrap(
    uow_factory: Callable[[], UnitOfWork],
    *,
    clock: Clock = utc_now,
    new_id: IdFactory = uuid.uuid4,
    warning_days: int = DEFAULT_WARNING_DAYS,
    page_limits: PageLimits | None = None,
) -> IdentityApplication:
    return IdentityApplication(
        uow_factory=uow_factory,
        context=HandlerContext(clock=clock, new_id=new_id, warning_days=warning_days),
        page_limits=page_limits or PageLimits(),
    )


def postgres_units_of_work(
    pool: asyncpg.Pool, write_events: EventWriter = write_to_outbox
) -> Callable[[], UnitOfWork]:
    """Units of work on `pool` whose events go to the transactional outbox."""
    return lambda: PostgresUnitOfWork(pool, write_events)
