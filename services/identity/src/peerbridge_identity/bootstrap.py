"""The one place that wires the service: real adapters by default, fakes from tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import ClientAssertionVerifier, PostgresJtiStore

from .adapters.argon2_hasher import Argon2Hasher
from .adapters.audit_trail import SERVICE
from .adapters.authentication_audit import AuditorAuthenticationAudit
from .adapters.outbox_writer import write_to_outbox
from .adapters.postgres_token_store import PostgresTokenStore
from .adapters.postgres_unit_of_work import EventWriter, PostgresUnitOfWork
from .config import IdentitySettings
from .domain.credentials import LockoutPolicy, ThrottlePolicy
from .domain.eligibility import DEFAULT_WARNING_DAYS
from .service_layer.application import IdentityApplication
from .service_layer.context import Clock, HandlerContext, IdFactory
from .service_layer.pagination import PageLimits
from .service_layer.signing_keys import SigningKeys
from .service_layer.token_grants import TokenIssuer, TokenPolicy
from .service_layer.token_ports import PasswordHasher
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
    hasher: PasswordHasher | None = None,
    signing_keys: SigningKeys | None = None,
) -> IdentityApplication:
    return IdentityApplication(
        uow_factory=uow_factory,
        context=HandlerContext(clock=clock, new_id=new_id, warning_days=warning_days),
        page_limits=page_limits or PageLimits(),
        hasher=hasher or Argon2Hasher(),
        signing_keys=signing_keys,
    )


def postgres_units_of_work(
    pool: asyncpg.Pool, write_events: EventWriter = write_to_outbox
) -> Callable[[], UnitOfWork]:
    """Units of work on `pool` whose events go to the transactional outbox."""
    return lambda: PostgresUnitOfWork(pool, write_events)


def token_issuer(
    pool: asyncpg.Pool,
    signing_keys: SigningKeys,
    settings: IdentitySettings,
    clock: Clock,
    hasher: PasswordHasher,
) -> TokenIssuer:
    """The token endpoint on `pool`: grants, lockout, throttle, client keys and audit.
    `hasher` is the application's: one argon2 setup (and decoy hash) per process."""
    policy = TokenPolicy(
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        access_token_lifetime_s=settings.access_token_lifetime_s,
        refresh_token_lifetime=timedelta(seconds=settings.refresh_token_lifetime_s),
        session_lifetime=timedelta(seconds=settings.session_lifetime_s),
        lockout=LockoutPolicy(settings.lockout_failures, timedelta(seconds=settings.lockout_s)),
        throttle=ThrottlePolicy(
            settings.throttle_attempts, timedelta(seconds=settings.throttle_window_s)
        ),
    )
    store = PostgresTokenStore(pool)
    assertions = ClientAssertionVerifier(
        token_endpoint=policy.token_endpoint,
        client_keys=store,
        jti_store=PostgresJtiStore(pool),
        clock=lambda: clock().timestamp(),
    )
    return TokenIssuer(
        store=store,
        hasher=hasher,
        keys=signing_keys,
        assertions=assertions,
        audit=AuditorAuthenticationAudit(Auditor(SERVICE, pool=pool), pool),
        policy=policy,
        clock=clock,
    )
