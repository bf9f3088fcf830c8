"""The one place that wires the service: real adapters by default, fakes from tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

from .adapters.outbox_writer import write_to_outbox
from .adapters.postgres_unit_of_work import EventWriter, PostgresUnitOfWork
from .adapters.reason_cipher import ReasonCipher
from .service_layer.application import ReferralsApplication
from .service_layer.handlers import Clock, IdFactory
from .service_layer.pagination import PageLimits
from .service_layer.unit_of_work import UnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


def bootstrap(
    uow_factory: Callable[[], UnitOfWork],
    *,
    clock: Clock = utc_now,
    new_id: IdFactory = uuid.uuid4,
    page_limits: PageLimits | None = None,
) -> ReferralsApplication:
    return ReferralsApplication(
        uow_factory=uow_factory,
        clock=clock,
        new_id=new_id,
        page_limits=page_limits or PageLimits(),
    )


def postgres_units_of_work(
    pool: asyncpg.Pool, cipher: ReasonCipher, write_events: EventWriter = write_to_outbox
) -> Callable[[], UnitOfWork]:
    """Units of work on `pool` whose events go to the transactional outbox; `cipher` seals
    each referral's reason at rest."""
    return lambda: PostgresUnitOfWork(pool, cipher, write_events)
