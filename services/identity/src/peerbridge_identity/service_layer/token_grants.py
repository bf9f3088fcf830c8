"""The token endpoint's use cases: password, refresh token and client credentials grants,
revocation, and the public keys.

Every refusal of a grant looks the same from outside (`invalid_grant` for
people, `invalid_client` for clients): a wrong password, an unknown username
and a locked account give one message and take as long (a password hash is
checked in every case). What really happened goes to the audit trail.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from peerbridge_platform.audit.model import Actor
from peerbridge_platform.auth import (
    CLIENT_ASSERTION_TYPE,
    ClientAssertionVerifier,
    issue_access_token,
)
from peerbridge_platform.auth import Role as TokenRole
from peerbridge_platform.auth.scopes import allowed_scopes, granted_scopes
from peerbridge_platform.errors import (
    FieldViolation,
    InvalidArgument,
    ResourceExhausted,
    Unauthenticated,
)
from peerbridge_platform.logging import get_logger

from ..domain.credentials import (
    MAX_PASSWORD_LENGTH,
    LockoutPolicy,
    ThrottlePolicy,
    username_key,
)
from ..domain.values import Role
from .context import Clock
from .signing_keys import SigningKeys
from .token_ports import (
    AuthenticationAudit,
    ExchangeOutcome,
    PasswordHasher,
    PersonAccess,
    RefreshTimes,
    TokenStore,
)

log = get_logger(__name__)

BAD_PASSWORD = "invalid username or password"  # noqa: S105 (a message)
BAD_REFRESH_TOKEN = "invalid or expired refresh token"  # noqa: S105 (a message)
# Refresh tokens say what they are, so a leaked one is recognisable in logs and scanners.
REFRESH_TOKEN_PREFIX = "pbr1."  # noqa: S105 (a prefix)
_MAX_INPUT = 4096


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    access_token_lifetime_s: int = 300
    refresh_token_lifetime: timedelta = timedelta(hours=12)
    session_lifetime: timedelta = timedelta(days=7)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)

    @property
    def token_endpoint(self) -> str:
        """The audience of client assertions: the public token endpoint URL."""
        return self.issuer.rstrip("/") + "/v1/auth/token"


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    scopes: tuple[str, ...]
    refresh_token: str = ""


def refresh_token_digest(token: str) -> bytes:
    """What storage keeps of a refresh token: 256 random bits need no slow hash."""
    return hashlib.sha256(token.encode()).digest()


def _new_refresh_token() -> tuple[str, bytes]:
    token = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, refresh_token_digest(token)


def _scopes_or_invalid(requested: list[str], allowed: frozenset[str]) -> frozenset[str]:
    try:
        return granted_scopes(requested, allowed)
    except ValueError as error:
        raise InvalidArgument(str(error), [FieldViolation("scopes", str(error))]) from None


def _required(value: str, name: str) -> str:
    if not value:
        raise InvalidArgument(f"{name} is required", [FieldViolation(name, "is required")])
    if len(value) > _MAX_INPUT:
        raise InvalidArgument(f"{name} is too long", [FieldViolation(name, "is too long")])
    return value


class TokenIssuer:
    def __init__(
        self,
        *,
        store: TokenStore,
        hasher: PasswordHasher,
        keys: SigningKeys,
        assertions: ClientAssertionVerifier,
        audit: AuthenticationAudit,
        policy: TokenPolicy,
        clock: Clock,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._keys = keys
        self._assertions = assertions
        self._audit = audit
        self._policy = policy
        self._clock = clock

    def jwks_json(self) -> str:
        return self._keys.jwks_json()

    async def password_grant(
        self, username: str, password: str, scopes: list[str], address: str
    ) -> IssuedTokens:
        _required(username, "username")
        # No password is that long: the same answer as a wrong one, after the same work
        # (hashing only a bounded prefix, so a huge input costs no more than a real one).
        too_long = len(password) > MAX_PASSWORD_LENGTH
        password = password[:MAX_PASSWORD_LENGTH]
        await self._not_throttled(address, "auth.sign_in")
        now = self._clock()
        account = await self._store.account(username_key(username))
        if account is None:
            await self._hasher.waste_time(password)
            await self._refuse_sign_in(address, None, "unknown username")
        assert account is not None
        person_id = account.credential.person_id
        locked = self._policy.lockout.is_locked(account.credential, now)
        matches = await self._hasher.verify(account.credential.password_hash, password)
        matches = matches and not too_long
        if locked:
            await self._refuse_sign_in(address, person_id, "account locked")
        if not matches:
            await self._store.record_wrong_password(person_id, now, self._policy.lockout)
            await self._refuse_sign_in(address, person_id, "wrong password")
        await self._store.record_sign_in(person_id)
        access = PersonAccess(account.roles, account.organization_id)
        granted = _scopes_or_invalid(scopes, allowed_scopes(_token_roles(access.roles)))
        refresh_token, digest = _new_refresh_token()
        await self._store.start_family(person_id, granted, digest, self._refresh_times())
        issued = self._person_tokens(person_id, access, granted, refresh_token)
        await self._audit.allowed(
            "auth.sign_in",
            subject_id=str(person_id),
            reason="password",
            actor=_person_actor(person_id, access),
        )
        return issued

    async def refresh_grant(self, refresh_token: str, scopes: list[str]) -> IssuedTokens:
        _required(refresh_token, "refresh_token")
        digest = refresh_token_digest(refresh_token)
        if scopes:
            # Refused scopes must not spend the token: the client keeps it and may retry.
            await self._check_refresh_scopes(digest, scopes)
        successor, successor_digest = _new_refresh_token()
        exchange = await self._store.exchange(digest, successor_digest, self._refresh_times())
        subject = str(exchange.person_id) if exchange.person_id else None
        if exchange.outcome is not ExchangeOutcome.EXCHANGED:
            if exchange.outcome is ExchangeOutcome.REPLAYED:
                family = str(exchange.family_id)
                log.warning("refresh token replayed; family revoked", family=family)
            await self._audit.denied("auth.refresh", subject_id=subject, reason=exchange.outcome)
            raise Unauthenticated(BAD_REFRESH_TOKEN)
        assert exchange.person_id is not None
        access = await self._store.person_access(exchange.person_id)
        if access is None:
            await self._audit.denied("auth.refresh", subject_id=subject, reason="person gone")
            raise Unauthenticated(BAD_REFRESH_TOKEN)
        # Never wider than the sign-in granted, nor than the roles allow today.
        still_allowed = exchange.scopes & allowed_scopes(_token_roles(access.roles))
        granted = _scopes_or_invalid(scopes, still_allowed)
        issued = self._person_tokens(exchange.person_id, access, granted, successor)
        await self._audit.allowed(
            "auth.refresh",
            subject_id=subject,
            reason="refresh token",
            actor=_person_actor(exchange.person_id, access),
        )
        return issued

    async def _check_refresh_scopes(self, digest: bytes, scopes: list[str]) -> None:
        family = await self._store.family_of(digest)
        if family is None or family.person_id is None:
            return  # the exchange answers for unknown tokens
        access = await self._store.person_access(family.person_id)
        roles = access.roles if access else frozenset()
        _scopes_or_invalid(scopes, family.scopes & allowed_scopes(_token_roles(roles)))

    async def client_credentials_grant(
        self, assertion_type: str, assertion: str, scopes: list[str], address: str
    ) -> IssuedTokens:
        _required(assertion_type, "client_assertion_type")
        _required(assertion, "client_assertion")
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise InvalidArgument(
                "unsupported client_assertion_type",
                [FieldViolation("client_assertion_type", f"must be {CLIENT_ASSERTION_TYPE}")],
            )
        await self._not_throttled(address, "auth.client_credentials")
        try:
            authenticated = await self._assertions.verify(assertion, assertion_type=assertion_type)
            client = await self._store.client(UUID(authenticated.client_id))
        except (Unauthenticated, ValueError) as error:
            await self._store.count_failure(address, self._clock(), self._policy.throttle)
            reason = error.message if isinstance(error, Unauthenticated) else "bad client id"
            await self._audit.denied("auth.client_credentials", subject_id=None, reason=reason)
            raise Unauthenticated(reason) from None
        if client is None:
            await self._store.count_failure(address, self._clock(), self._policy.throttle)
            await self._audit.denied(
                "auth.client_credentials", subject_id=None, reason="client unknown"
            )
            raise Unauthenticated("client unknown")
        granted = _scopes_or_invalid(scopes, frozenset(client.scopes))
        client_id, organization_id = str(client.client_id), str(client.organization_id)
        token = issue_access_token(
            self._keys.key_set.active,
            issuer=self._policy.issuer,
            audience=self._policy.audience,
            subject=client_id,
            roles=[TokenRole.PARTNER_CLIENT],
            scopes=sorted(granted),
            organization_id=organization_id,
            client_id=client_id,
            lifetime_s=self._policy.access_token_lifetime_s,
            now=self._clock(),
        )
        await self._audit.allowed(
            "auth.client_credentials",
            subject_id=None,
            reason=f"private_key_jwt kid {authenticated.key_id}",
            actor=Actor(
                subject_id=client_id,
                client_id=client_id,
                organization_id=organization_id,
                roles=(TokenRole.PARTNER_CLIENT.value,),
            ),
        )
        return IssuedTokens(token, self._policy.access_token_lifetime_s, tuple(sorted(granted)))

    async def revoke(self, token: str) -> None:
        """RFC 7009: unknown, spent and revoked tokens are all fine."""
        if not token or len(token) > _MAX_INPUT:
            return
        if await self._store.revoke_family_of(refresh_token_digest(token), self._clock()):
            await self._audit.allowed(
                "auth.revoke", subject_id=None, reason="refresh token family", actor=Actor()
            )

    async def _not_throttled(self, address: str, action: str) -> None:
        retry_after = await self._store.throttled(address, self._clock(), self._policy.throttle)
        if retry_after is not None:
            await self._audit.denied(action, subject_id=None, reason="throttled")
            raise ResourceExhausted("too many failed attempts; try again later", retry_after)

    async def _refuse_sign_in(self, address: str, person_id: UUID | None, reason: str) -> None:
        await self._store.count_failure(address, self._clock(), self._policy.throttle)
        subject = str(person_id) if person_id else None
        await self._audit.denied("auth.sign_in", subject_id=subject, reason=reason)
        raise Unauthenticated(BAD_PASSWORD)

    def _refresh_times(self) -> RefreshTimes:
        policy = self._policy
        return RefreshTimes(self._clock(), policy.refresh_token_lifetime, policy.session_lifetime)

    def _person_tokens(
        self, person_id: UUID, access: PersonAccess, scopes: frozenset[str], refresh_token: str
    ) -> IssuedTokens:
        organization = access.organization_id
        token = issue_access_token(
            self._keys.key_set.active,
            issuer=self._policy.issuer,
            audience=self._policy.audience,
            subject=str(person_id),
            roles=_token_roles(access.roles),
            scopes=sorted(scopes),
            organization_id=str(organization) if organization else None,
            lifetime_s=self._policy.access_token_lifetime_s,
            now=self._clock(),
        )
        return IssuedTokens(
            token, self._policy.access_token_lifetime_s, tuple(sorted(scopes)), refresh_token
        )


def _token_roles(roles: frozenset[Role]) -> list[TokenRole]:
    return sorted(TokenRole(role.value) for role in roles)


def _person_actor(person_id: UUID, access: PersonAccess) -> Actor:
    organization = access.organization_id
    return Actor(
        subject_id=str(person_id),
        organization_id=str(organization) if organization else None,
        roles=tuple(sorted(role.value for role in access.roles)),
    )
