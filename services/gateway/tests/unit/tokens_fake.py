"""An in-memory identity TokenService behind the gateway's port, for unit tests only.

It signs real access tokens with a test key set, rotates refresh tokens and
revokes a family when a spent one comes back, as the contract says.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

import grpc

from peerbridge_gateway.clients.errors import NotServing, ServiceError
from peerbridge_gateway.clients.tokens import (
    ClientCredentialsGrant,
    Grant,
    IssuedTokens,
    PasswordGrant,
    RefreshTokenGrant,
)
from peerbridge_platform.auth import KeySet, Role, issue_access_token
from peerbridge_platform.auth.scopes import allowed_scopes, granted_scopes
from peerbridge_platform.errors import FieldViolation

SERVICE = "identity"
VALID_ASSERTION = "a-signed-assertion-of-the-test-partner"


@dataclass(frozen=True)
class Account:
    subject: str
    password: str
    roles: frozenset[Role]
    organization_id: str = "program-test-harbour"


@dataclass
class _Refresh:
    account: Account
    scopes: tuple[str, ...]
    family: str
    spent: bool = False


@dataclass
class InMemoryTokens:
    key_set: KeySet
    issuer: str
    audience: str
    accounts: dict[str, Account] = field(default_factory=dict)
    serving: bool = True
    # The next calls raise these, in order.
    failures: list[Exception] = field(default_factory=list)
    client_addresses: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    _refresh: dict[str, _Refresh] = field(default_factory=dict)

    async def issue_token(
        self, grant: Grant, *, scopes: tuple[str, ...], client_address: str
    ) -> IssuedTokens:
        self.client_addresses.append(client_address)
        self._maybe_fail()
        if isinstance(grant, PasswordGrant):
            account = self.accounts.get(grant.username.lower())
            if account is None or account.password != grant.password:
                raise _refused("invalid username or password")
            return self._issue(account, self._grant(account.roles, scopes), family=None)
        if isinstance(grant, RefreshTokenGrant):
            refresh = self._refresh.get(grant.refresh_token)
            if refresh is None:
                raise _refused("invalid refresh token")
            if refresh.spent:
                self._revoke_family(refresh.family)
                raise _refused("invalid refresh token")
            refresh.spent = True
            wanted = self._grant(refresh.account.roles, scopes or refresh.scopes, refresh.scopes)
            return self._issue(refresh.account, wanted, family=refresh.family)
        assert isinstance(grant, ClientCredentialsGrant)
        if grant.client_assertion != VALID_ASSERTION:
            raise _refused("client authentication failed")
        token = issue_access_token(
            self.key_set.active,
            issuer=self.issuer,
            audience=self.audience,
            subject="client-test-partner",
            roles=[Role.PARTNER_CLIENT],
            scopes=scopes or ("referrals.read",),
            organization_id="clinic-test-northside",
            client_id="client-test-partner",
        )
        return IssuedTokens(token, "Bearer", 300, tuple(sorted(scopes or ("referrals.read",))))

    async def revoke_token(self, token: str, *, client_address: str) -> None:
        self.client_addresses.append(client_address)
        self._maybe_fail()
        refresh = self._refresh.get(token)
        if refresh is not None:
            self._revoke_family(refresh.family)

    async def get_jwks(self) -> str:
        self._maybe_fail()
        return json.dumps(self.key_set.to_jwks())

    async def check_serving(self) -> None:
        if not self.serving:
            raise NotServing("NOT_SERVING")

    def _grant(
        self, roles: frozenset[Role], wanted: tuple[str, ...], ceiling: tuple[str, ...] = ()
    ) -> tuple[str, ...]:
        allowed = set(ceiling) if ceiling else allowed_scopes(roles)
        try:
            return tuple(sorted(granted_scopes(wanted, allowed)))
        except ValueError as error:
            raise ServiceError(
                SERVICE,
                grpc.StatusCode.INVALID_ARGUMENT,
                str(error),
                [FieldViolation("scopes", str(error))],
            ) from None

    def _issue(self, account: Account, scopes: tuple[str, ...], family: str | None) -> IssuedTokens:
        access = issue_access_token(
            self.key_set.active,
            issuer=self.issuer,
            audience=self.audience,
            subject=account.subject,
            roles=account.roles,
            scopes=scopes,
            organization_id=account.organization_id,
        )
        refresh = secrets.token_urlsafe(32)
        self._refresh[refresh] = _Refresh(account, scopes, family or secrets.token_hex(8))
        return IssuedTokens(access, "Bearer", 300, scopes, refresh)

    def _revoke_family(self, family: str) -> None:
        for token, refresh in list(self._refresh.items()):
            if refresh.family == family:
                del self._refresh[token]
                self.revoked.append(token)

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)


def _refused(message: str) -> ServiceError:
    return ServiceError(SERVICE, grpc.StatusCode.UNAUTHENTICATED, message)
