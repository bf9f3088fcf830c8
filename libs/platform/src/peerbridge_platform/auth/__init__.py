"""Authentication and authorization shared by every service.

- `keys`: signing keys (EdDSA by default), their JWKs and a rotating `KeySet`;
- `tokens`: `issue_access_token` and the RFC 8725 `TokenVerifier`;
- `jwks`: where verifiers find public keys (static, or the issuer over HTTP);
- `authorization`: scope, role and object-level checks;
- `context`: the verified caller of the current call.
"""

from .authorization import not_found_unless, require_any_role, require_scopes
from .context import current_peer, current_principal, principal_context, require_principal
from .jwks import HttpJwksSource, JwksSource, JwksUnavailable, StaticJwksSource, parse_jwks
from .keys import KeyFormatError, KeySet, SigningKey, VerificationKey, thumbprint
from .principal import Principal, Role
from .tokens import BearerVerifier, TokenVerifier, issue_access_token

__all__ = [
    "BearerVerifier",
    "HttpJwksSource",
    "JwksSource",
    "JwksUnavailable",
    "KeyFormatError",
    "KeySet",
    "Principal",
    "Role",
    "SigningKey",
    "StaticJwksSource",
    "TokenVerifier",
    "VerificationKey",
    "current_peer",
    "current_principal",
    "issue_access_token",
    "not_found_unless",
    "parse_jwks",
    "principal_context",
    "require_any_role",
    "require_principal",
    "require_scopes",
    "thumbprint",
]
