"""Bearer tokens on the `/v1` API (RFC 6750): who is calling, and may they call this route.

Access tokens are verified here (RFC 8725, by `peerbridge_platform.auth.TokenVerifier`)
and again by every service the request reaches: the gateway refuses early and
checks scopes per route; the services decide which records a caller may see.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from peerbridge_platform.auth import BearerVerifier, Principal
from peerbridge_platform.errors import Unauthenticated
from peerbridge_platform.grpc import Caller
from peerbridge_platform.logging import get_logger

from .problems import ProblemException, challenge
from .rate_windows import RateWindows
from .refusal_audit import AUTHENTICATE, AUTHORIZE, Refusal, RefusalAudit

# Named in the OpenAPI document's security requirements.
SCHEME_NAME = "bearer"

log = get_logger(__name__)


def unauthenticated(*, token_sent: bool) -> ProblemException:
    return ProblemException(
        status=401,
        title="Unauthenticated",
        slug="unauthenticated",
        detail=(
            "The access token is not valid or has expired; get a new one from /v1/auth/token."
            if token_sent
            else "Send an access token: `Authorization: Bearer <token>` (from /v1/auth/token)."
        ),
        headers={"WWW-Authenticate": challenge(error="invalid_token" if token_sent else None)},
    )


def insufficient_scope(missing: tuple[str, ...]) -> ProblemException:
    return ProblemException(
        status=403,
        title="Insufficient scope",
        slug="insufficient-scope",
        detail=f"The access token lacks the scope {' '.join(missing)}.",
        headers={"WWW-Authenticate": challenge(error="insufficient_scope", scopes=missing)},
    )


@dataclass(frozen=True)
class Authenticated:
    """A verified caller and the token that proved it (forwarded to the services)."""

    principal: Principal
    token: str = field(repr=False)

    def caller(self) -> Caller:
        """The caller as the services see it: the bearer token, which they verify again."""
        return Caller(principal=caller_name(self.principal), bearer_token=self.token)


def caller_name(principal: Principal) -> str:
    """A name for the caller that a person and a partner client can never share."""
    if principal.client_id is not None:
        return f"client:{principal.client_id}"
    return f"person:{principal.subject}"


def missing_scopes(principal: Principal, required: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(scope for scope in required if scope not in principal.scopes)


class Authenticator:
    """Verifies bearer tokens and checks scopes; every refusal is logged (rate-limited,
    never the token) and audited (see refusal_audit.py)."""

    def __init__(
        self, verifier: BearerVerifier, failure_log: RateLimitedLog, audit: RefusalAudit
    ) -> None:
        self._verifier = verifier
        self._failures = failure_log
        self._audit = audit

    async def missing(self, *, route: str, client_address: str | None) -> ProblemException:
        """The refusal of a request that sent no bearer token."""
        await self._refused(AUTHENTICATE, "no bearer token", route, client_address)
        return unauthenticated(token_sent=False)

    async def authenticate(
        self, token: str, *, route: str, client_address: str | None
    ) -> Principal:
        try:
            return await self._verifier.verify(token)
        except Unauthenticated as error:
            await self._refused(AUTHENTICATE, error.message, route, client_address)
            raise unauthenticated(token_sent=True) from None

    async def authorize(
        self,
        principal: Principal,
        required: tuple[str, ...],
        *,
        route: str,
        client_address: str | None,
    ) -> None:
        """403 `insufficient_scope` unless the token holds every scope `required`."""
        missing = missing_scopes(principal, required)
        if missing:
            reason = f"token lacks scope {' '.join(missing)}"
            await self._refused(AUTHORIZE, reason, route, client_address, principal)
            raise insufficient_scope(missing)

    async def _refused(
        self,
        action: str,
        reason: str,
        route: str,
        client_address: str | None,
        principal: Principal | None = None,
    ) -> None:
        self._failures.refused(reason, client_address=client_address)
        await self._audit.refused(Refusal(action, reason, route, client_address, principal))


class RateLimitedLog:
    """Logs failed authentications, at most `per_minute` lines per reason and minute.

    A flood of bad tokens must not flood the log: past the limit lines are
    counted, and the count is logged with the first line of the next minute.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._windows = RateWindows(per_minute, clock)

    def refused(self, reason: str, *, client_address: str | None) -> bool:
        """Log one refusal unless over the limit; True when a line was written."""
        admission = self._windows.admit(reason)
        if admission.held_back_before:
            log.warning(
                "authentication failures not logged",
                reason=reason,
                count=admission.held_back_before,
            )
        if admission.admitted:
            log.info("authentication failed", reason=reason, client_address=client_address)
        return admission.admitted
