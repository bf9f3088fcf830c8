"""What the gateway's routes use, built once by the app's lifespan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .authentication import Authenticator
from .clients.consents import ConsentsClient
from .clients.crisis import CrisisClient
from .clients.disclosures import DisclosuresClient
from .clients.emergency import EmergencyClient
from .clients.notes import NotesClient
from .clients.patients import PatientsClient
from .clients.referrals import ReferralsClient
from .clients.tokens import TokenClient
from .clients.worklist import WorklistClient
from .idempotency.guard import IdempotencyGuard
from .jwks_document import CachedJwks
from .problems import ProblemRenderer
from .refusal_audit import RefusalAudit


@dataclass(frozen=True)
class Probe:
    """One readiness check: raises when `name` is not ready."""

    name: str
    check: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class GatewayResources:
    referrals: ReferralsClient
    # The referrals service's consent RPCs.
    consents: ConsentsClient
    # The referrals service's accounting of disclosures.
    disclosures: DisclosuresClient
    # The referrals service's worklist (overdue referrals, closed loops).
    worklist: WorklistClient
    # The referrals service's CrisisService: risk flags and where they go.
    crisis: CrisisClient
    # The referrals service's EmergencyAccessService (break-the-glass, 42 CFR 2.51).
    emergency: EmergencyClient
    # The referrals service's notes on referrals.
    notes: NotesClient
    tokens: TokenClient
    # Identity's patient links: a clinic's patient identifier to its member.
    patients: PatientsClient
    authenticator: Authenticator
    jwks: CachedJwks
    jwks_cache_s: int
    idempotency: IdempotencyGuard
    renderer: ProblemRenderer
    probes: tuple[Probe, ...]
    probe_timeout_s: float
    # The audit trail of requests the gateway refuses itself.
    refusals: RefusalAudit
