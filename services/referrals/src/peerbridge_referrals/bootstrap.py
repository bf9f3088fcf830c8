"""The one place that wires the service: real adapters by default, fakes from tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import JwksSource, TokenVerifier

from .adapters.audit_trail import SERVICE, AuditorDeniedAccessLog
from .adapters.outbox_writer import write_to_outbox
from .adapters.postgres_unit_of_work import EventWriter, PostgresUnitOfWork
from .adapters.reason_cipher import ReasonCipher
from .config import ReferralsSettings
from .service_layer.application import ReferralsApplication
from .service_layer.audit import DeniedAccessLog
from .service_layer.handlers import Clock, IdFactory
from .service_layer.pagination import PageLimits
from .service_layer.unit_of_work import UnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


def bootstrap(
    uow_factory: Callable[[], UnitOfWork],
    denials: DeniedAccessLog,
    *,
    clock: Clock = utc_now,
    new_id: IdFactory = uuid.uuid4,
    page_limits: PageLimits | None = None,
) -> ReferralsApplication:
    return ReferralsApplication(
        uow_factory=uow_factory,
        denials=denials,
        clock=clock,
        new_id=new_id,
        page_limits=page_limits or PageLimits(),
    )


def postgres_units_of_work(
    pool: asyncpg.Pool,
    cipher: ReasonCipher,
    write_events: EventWriter = write_to_outbox,
    auditor: Auditor | None = None,
) -> Callable[[], UnitOfWork]:
    """Units of work on `pool` whose events and audit records go to the transactional
    outbox; `cipher` seals each referral's reason at rest."""
    auditor = auditor or Auditor(SERVICE, pool=pool)
    return lambda: PostgresUnitOfWork(pool, cipher, write_events, auditor)


def postgres_denials(pool: asyncpg.Pool) -> DeniedAccessLog:
    """Refusals audited on `pool`, each in a transaction of its own."""
    return AuditorDeniedAccessLog(Auditor(SERVICE, pool=pool))


def token_verifier(settings: ReferralsSettings, jwks_source: JwksSource) -> TokenVerifier:
    """Verifies access tokens of the configured issuer and audience against `jwks_source`:
    identity's JWKS in production, a fixed test key set in tests."""
    return TokenVerifier(settings.token_issuer, settings.token_audience, jwks_source)
