"""The token port: what the gateway asks of identity's TokenService, in its own types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PasswordGrant:
    """A person signs in (RFC 6749 §4.3)."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class RefreshTokenGrant:
    """A refresh token is exchanged for new tokens (RFC 6749 §6)."""

    refresh_token: str = field(repr=False)


@dataclass(frozen=True)
class ClientCredentialsGrant:
    """A partner client authenticates with a signed assertion (RFC 7523, private_key_jwt)."""

    client_assertion_type: str
    client_assertion: str = field(repr=False)


Grant = PasswordGrant | RefreshTokenGrant | ClientCredentialsGrant


@dataclass(frozen=True)
class IssuedTokens:
    """What the token endpoint answers with (RFC 6749 §5.1)."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    scopes: tuple[str, ...]
    # None for client credentials: a partner client signs a new assertion instead.
    refresh_token: str | None = field(default=None, repr=False)


class TokenClient(Protocol):
    """Identity's TokenService as the gateway uses it.

    Failures raise `ServiceError` (a RESOURCE_EXHAUSTED one with `retry_after_s`);
    `check_serving` raises `NotServing` or `ServiceError`.
    """

    async def issue_token(
        self, grant: Grant, *, scopes: tuple[str, ...], client_address: str
    ) -> IssuedTokens: ...

    async def revoke_token(self, token: str, *, client_address: str) -> None:
        """Revoke a refresh token and its family; unknown tokens are not an error."""
        ...

    async def get_jwks(self) -> str:
        """The JWKS document (JSON text) that verifies access tokens."""
        ...

    async def check_serving(self) -> None: ...
