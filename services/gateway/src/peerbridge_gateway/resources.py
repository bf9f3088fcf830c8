"""What the gateway's routes use, built once by the app's lifespan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .clients.referrals import ReferralsClient
from .idempotency.guard import IdempotencyGuard
from .problems import ProblemRenderer


@dataclass(frozen=True)
class Probe:
    """One readiness check: raises when `name` is not ready."""

    name: str
    check: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class GatewayResources:
    referrals: ReferralsClient
    idempotency: IdempotencyGuard
    renderer: ProblemRenderer
    probes: tuple[Probe, ...]
    probe_timeout_s: float
