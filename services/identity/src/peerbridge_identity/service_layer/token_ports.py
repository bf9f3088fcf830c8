"""The ports of the token endpoint: where credentials live, how passwords are hashed,
and where authentication events are audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from peerbridge_platform.audit.model import Actor

from ..domain.credentials import Account, LockoutPolicy, ThrottlePolicy
from ..domain.model import Client
from ..domain.values import Role


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool:
        """False for a wrong password; never raises for one."""
        ...

    async def waste_time(self, password: str) -> None:
        """Take as long as `verify` does, for a username that does not exist."""
        ...


class ExchangeOutcome(StrEnum):
    EXCHANGED = "exchanged"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    # A spent token came back: someone holds a copy, so the family is revoked now.
    REPLAYED = "replayed"


@dataclass(frozen=True)
class RefreshExchange:
    outcome: ExchangeOutcome
    person_id: UUID | None = None
    family_id: UUID | None = None
    scopes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PersonAccess:
    """A person's roles and organization as they are now (tokens follow role changes)."""

    roles: frozenset[Role]
    organization_id: UUID | None


@dataclass(frozen=True)
class RefreshTimes:
    now: datetime
    # Each refresh token's own lifetime, and the family's from its sign-in.
    token_lifetime: timedelta
    family_lifetime: timedelta


class TokenStore(Protocol):
    """Shared by every instance of the service: counters and tokens live in storage."""

    async def throttled(self, address: str, now: datetime, policy: ThrottlePolicy) -> int | None:
        """Seconds the address must wait before trying again, or None."""
        ...

    async def count_failure(self, address: str, now: datetime, policy: ThrottlePolicy) -> None: ...

    async def account(self, username_key: str) -> Account | None: ...

    async def record_wrong_password(
        self, person_id: UUID, now: datetime, policy: LockoutPolicy
    ) -> None:
        """One more failure in a row; locks the account when the policy says so."""
        ...

    async def record_sign_in(self, person_id: UUID) -> None:
        """Resets the failures in a row."""
        ...

    async def person_access(self, person_id: UUID) -> PersonAccess | None: ...

    async def start_family(
        self, person_id: UUID, scopes: frozenset[str], first_digest: bytes, times: RefreshTimes
    ) -> UUID:
        """A new family (one sign-in) holding its first token; returns the family id."""
        ...

    async def exchange(
        self, digest: bytes, successor_digest: bytes, times: RefreshTimes
    ) -> RefreshExchange:
        """Spend the token and store its successor in the same family, in one
        transaction; or say why not (a replay revokes the family)."""
        ...

    async def family_of(self, digest: bytes) -> RefreshExchange | None:
        """The token's person and the scopes its sign-in granted, without spending it
        (outcome UNKNOWN); None for a token never issued."""
        ...

    async def revoke_family_of(self, digest: bytes, now: datetime) -> bool: ...

    async def client(self, client_id: UUID) -> Client | None: ...


class AuthenticationAudit(Protocol):
    """Sign-ins, refreshes, client authentications and revocations, allowed or refused."""

    async def allowed(
        self, action: str, *, subject_id: str | None, reason: str, actor: Actor
    ) -> None: ...

    async def denied(self, action: str, *, subject_id: str | None, reason: str) -> None: ...
