"""Access tokens: issued by the identity service, verified by every service (RFC 8725, RFC 9068).

A token is a JWS signed with an asymmetric key, typed `at+jwt` so that no
other JWT (a client assertion, an ID token) can pass for an access token.
Verification refuses before doing any cryptography when the header is not
what we issue, then resolves `kid` against the JWKS and verifies with the
key's own algorithm only.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ..errors import Unauthenticated
from ..logging import get_logger
from . import _claims, _jws
from .jwks import JwksSource, JwksUnavailable
from .keys import SigningKey, check_algorithms
from .principal import Principal, Role

_log = get_logger(__name__)

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
DEFAULT_LIFETIME_S = 300
MAX_LIFETIME_S = 3600
DEFAULT_ALGORITHMS = ("EdDSA", "ES256")
_ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# RFC 6749 §3.3 scope-token.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
_REQUIRED = ("iss", "sub", "aud", "exp", "iat", "nbf", "jti")


class BearerVerifier(Protocol):
    """Anything that turns a bearer credential into a Principal or raises Unauthenticated."""

    async def verify(self, token: str) -> Principal: ...


def issue_access_token(
    key: SigningKey,
    *,
    issuer: str,
    audience: str | Sequence[str],
    subject: str,
    roles: Iterable[Role | str],
    scopes: Iterable[str],
    organization_id: str | None,
    client_id: str | None = None,
    lifetime_s: int = DEFAULT_LIFETIME_S,
    now: datetime | None = None,
    token_id: str | None = None,
) -> str:
    """A signed, compact access token (`kid` in the header) for `subject`."""
    if not 0 < lifetime_s <= MAX_LIFETIME_S:
        raise ValueError(f"lifetime_s must be between 1 and {MAX_LIFETIME_S}")
    scope_list = list(dict.fromkeys(scopes))
    for scope in scope_list:
        if not _SCOPE_TOKEN.fullmatch(scope):
            raise ValueError(f"scope {scope!r} is not an RFC 6749 scope token")
    issued = (now or datetime.now(UTC)).astimezone(UTC)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience if isinstance(audience, str) else list(audience),
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=lifetime_s)).timestamp()),
        "jti": token_id or str(uuid.uuid4()),
        "roles": sorted({Role(role).value for role in roles}),
        "scope": " ".join(scope_list),
    }
    if organization_id is not None:
        claims["organization_id"] = organization_id
    if client_id is not None:
        claims["client_id"] = client_id
    return key.sign(claims, typ=ACCESS_TOKEN_TYPE)


class TokenVerifier:
    """Verifies access tokens of one issuer for one audience; see the module docstring."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_source: JwksSource,
        allowed_algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway_s: float = 30,
        *,
        max_lifetime_s: float = MAX_LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        self._issuer = issuer
        self._audience = audience
        self._source = jwks_source
        self._algorithms = frozenset(check_algorithms(allowed_algorithms))
        self._leeway_s = leeway_s
        self._max_lifetime_s = max_lifetime_s
        self._clock = clock

    async def verify(self, token: str) -> Principal:
        try:
            return await self._verify(token)
        except Unauthenticated as error:
            _log.info("access token refused", reason=error.message)
            raise
        except JwksUnavailable as error:
            _log.warning("access token not verifiable: issuer keys unavailable", error=str(error))
            raise Unauthenticated("token could not be verified") from None

    async def _verify(self, token: str) -> Principal:
        header = _jws.unverified_header(token)
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES:
            raise Unauthenticated("token is not an access token")
        algorithm, kid = _jws.pinned_algorithm(header, self._algorithms)
        key = await self._source.get_key(kid)
        if key is None:
            raise Unauthenticated("token signed by an unknown key")
        if key.algorithm != algorithm:
            # The key decides the algorithm, never the header: no key confusion.
            raise Unauthenticated("token algorithm does not match its key")
        claims = _jws.verified_claims(
            token, key.pyjwk(), algorithm, audience=self._audience, issuer=self._issuer
        )
        _require(claims, _REQUIRED)
        window = _claims.check_window(
            claims,
            now=self._clock(),
            leeway_s=self._leeway_s,
            max_lifetime_s=self._max_lifetime_s,
            require_iat=True,
            require_nbf=True,
        )
        return _principal(claims, window.expires_at)


def _require(claims: Mapping[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if claims.get(name) is None:
            raise Unauthenticated(f"token lacks the {name} claim")


def _principal(claims: Mapping[str, Any], expires_at: float) -> Principal:
    subject = _claims.text_claim(claims, "sub")
    token_id = _claims.text_claim(claims, "jti")
    assert subject is not None
    assert token_id is not None
    return Principal(
        subject=subject,
        roles=_roles(claims.get("roles", [])),
        scopes=_scopes(claims.get("scope", "")),
        organization_id=_claims.text_claim(claims, "organization_id", required=False),
        client_id=_claims.text_claim(claims, "client_id", required=False),
        token_id=token_id,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
    )


def _roles(value: object) -> frozenset[Role]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Unauthenticated("token claim roles is not a list of strings")
    known = {role.value for role in Role}
    # A role this version does not know grants nothing here (fail safe, not fail the call).
    return frozenset(Role(item) for item in value if item in known)


def _scopes(value: object) -> frozenset[str]:
    if not isinstance(value, str) or len(value) > 4096:
        raise Unauthenticated("token claim scope is not a string")
    return frozenset(value.split())
