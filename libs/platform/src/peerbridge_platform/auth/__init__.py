"""Authentication and authorization shared by every service.

- `keys`: signing keys (EdDSA by default), their JWKs and a rotating `KeySet`;
- `tokens`: `issue_access_token` and the RFC 8725 `TokenVerifier`;
- `jwks`: where verifiers find public keys (static, or the issuer's JWKS over HTTP or gRPC);
- `scopes`: the platform's scopes and what each role may be granted;
- `client_assertion`: SMART Backend Services `private_key_jwt` client authentication;
- `authorization`: scope, role and object-level checks;
- `context`: the verified caller of the current call.

Apply `AUTH_MIGRATIONS` where client assertions are verified (the token endpoint).
"""

from ..migrations import load_migrations
from .authorization import not_found_unless, require_any_role, require_scopes
from .client_assertion import (
    CLIENT_ASSERTION_TYPE,
    AuthenticatedClient,
    ClientAssertionVerifier,
    ClientKeySource,
    StaticClientKeys,
    create_client_assertion,
)
from .context import current_peer, current_principal, principal_context, require_principal
from .identity_jwks import identity_jwks_source
from .jti import JtiStore, MemoryJtiStore, PostgresJtiStore
from .jwks import (
    HttpJwksSource,
    JwksSource,
    JwksUnavailable,
    RefreshingJwksSource,
    StaticJwksSource,
    parse_jwks,
)
from .keys import KeyFormatError, KeySet, SigningKey, VerificationKey, thumbprint
from .principal import Principal, Role
from .tokens import BearerVerifier, TokenVerifier, issue_access_token

AUTH_MIGRATIONS = load_migrations("platform.auth", "peerbridge_platform.auth")

__all__ = [
    "AUTH_MIGRATIONS",
    "CLIENT_ASSERTION_TYPE",
    "AuthenticatedClient",
    "BearerVerifier",
    "ClientAssertionVerifier",
    "ClientKeySource",
    "HttpJwksSource",
    "JtiStore",
    "JwksSource",
    "JwksUnavailable",
    "KeyFormatError",
    "KeySet",
    "MemoryJtiStore",
    "PostgresJtiStore",
    "Principal",
    "RefreshingJwksSource",
    "Role",
    "SigningKey",
    "StaticClientKeys",
    "StaticJwksSource",
    "TokenVerifier",
    "VerificationKey",
    "create_client_assertion",
    "current_peer",
    "current_principal",
    "identity_jwks_source",
    "issue_access_token",
    "not_found_unless",
    "parse_jwks",
    "principal_context",
    "require_any_role",
    "require_principal",
    "require_scopes",
    "thumbprint",
]
