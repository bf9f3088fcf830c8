"""`private_key_jwt` client authentication, as SMART Backend Services profiles it.

A partner client proves who it is with a JWT it signed with a key it
registered: `iss` = `sub` = its client id, `aud` = our token endpoint URL,
`exp` no more than five minutes ahead, and a `jti` it never used before.
The `jti` is remembered only after the signature and every claim checked
out, so unsigned junk can never fill the store or burn a real client's ids.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ..errors import Unauthenticated
from ..logging import get_logger
from . import _claims, _jws
from .jti import JtiStore
from .keys import SigningKey, VerificationKey, check_algorithms

_log = get_logger(__name__)

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# SMART Backend Services: RS384 and ES384 must be supported; ours are welcome too.
DEFAULT_ASSERTION_ALGORITHMS = ("RS384", "ES384", "ES256", "EdDSA")
MAX_ASSERTION_LIFETIME_S = 300
_ACCEPTED_TYPES = frozenset({"jwt", "application/jwt"})


def create_client_assertion(
    key: SigningKey,
    *,
    client_id: str,
    token_endpoint: str,
    lifetime_s: int = 60,
    now: datetime | None = None,
) -> str:
    """What a partner client sends as `client_assertion`: signed by its registered key,
    short-lived, with a fresh `jti` (SMART Backend Services)."""
    if not 0 < lifetime_s <= MAX_ASSERTION_LIFETIME_S:
        raise ValueError(f"lifetime_s must be between 1 and {MAX_ASSERTION_LIFETIME_S}")
    issued = (now or datetime.now(UTC)).astimezone(UTC)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": int(issued.timestamp()),
        "exp": int(issued.timestamp()) + lifetime_s,
        "jti": str(uuid.uuid4()),
    }
    return key.sign(claims, typ="JWT")


class ClientKeySource(Protocol):
    """The public keys each registered client uploaded (or publishes at its JWKS URL)."""

    async def get_key(self, client_id: str, kid: str) -> VerificationKey | None: ...


class StaticClientKeys:
    """Registered client keys held in memory: tests, or a fixed configuration."""

    def __init__(self, keys: Mapping[str, Iterable[VerificationKey]]) -> None:
        self._keys = {client: {key.kid: key for key in ks} for client, ks in keys.items()}

    async def get_key(self, client_id: str, kid: str) -> VerificationKey | None:
        return self._keys.get(client_id, {}).get(kid)


@dataclass(frozen=True)
class AuthenticatedClient:
    client_id: str
    key_id: str
    assertion_id: str
    expires_at: datetime


class ClientAssertionVerifier:
    def __init__(
        self,
        *,
        token_endpoint: str,
        client_keys: ClientKeySource,
        jti_store: JtiStore,
        allowed_algorithms: Sequence[str] = DEFAULT_ASSERTION_ALGORITHMS,
        leeway_s: float = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token_endpoint:
            raise ValueError("token_endpoint is required: it is the assertion's audience")
        self._token_endpoint = token_endpoint
        self._client_keys = client_keys
        self._jti_store = jti_store
        self._algorithms = frozenset(check_algorithms(allowed_algorithms))
        self._leeway_s = leeway_s
        self._clock = clock

    async def verify(
        self,
        assertion: str,
        *,
        client_id: str | None = None,
        assertion_type: str = CLIENT_ASSERTION_TYPE,
    ) -> AuthenticatedClient:
        """The client the assertion authenticates, or Unauthenticated (OAuth2 `invalid_client`).

        `client_id` is the request's optional `client_id` parameter: when given,
        it must name the same client as the assertion.
        """
        try:
            return await self._verify(assertion, client_id, assertion_type)
        except Unauthenticated as error:
            _log.info("client assertion refused", reason=error.message)
            raise

    async def _verify(
        self, assertion: str, client_id: str | None, assertion_type: str
    ) -> AuthenticatedClient:
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise Unauthenticated("unsupported client assertion type")
        header = _jws.unverified_header(assertion)
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES):
            raise Unauthenticated("token is not a client assertion")
        algorithm, kid = _jws.pinned_algorithm(header, self._algorithms)
        claimed = _client_of(_jws.unverified_claims(assertion))
        if client_id is not None and client_id != claimed:
            raise Unauthenticated("client_id does not match the assertion")
        key = await self._client_keys.get_key(claimed, kid)
        if key is None:
            raise Unauthenticated("assertion signed by a key the client did not register")
        if key.algorithm != algorithm:
            raise Unauthenticated("token algorithm does not match its key")
        claims = _jws.verified_claims(
            assertion, key.pyjwk(), algorithm, audience=self._token_endpoint, issuer=claimed
        )
        verified_client = _client_of(claims)
        now = self._clock()
        window = _claims.check_window(
            claims,
            now=now,
            leeway_s=self._leeway_s,
            max_lifetime_s=MAX_ASSERTION_LIFETIME_S,
            require_iat=False,
            require_nbf=False,
        )
        if window.expires_at > now + MAX_ASSERTION_LIFETIME_S + self._leeway_s:
            raise Unauthenticated("assertion expires more than five minutes ahead")
        jti = _claims.text_claim(claims, "jti")
        assert jti is not None
        # Remembered until the assertion could no longer pass the exp check.
        remembered_until = datetime.fromtimestamp(window.expires_at + self._leeway_s, UTC)
        if not await self._jti_store.remember(verified_client, jti, remembered_until):
            raise Unauthenticated("assertion was already used")
        return AuthenticatedClient(
            client_id=verified_client,
            key_id=kid,
            assertion_id=jti,
            expires_at=datetime.fromtimestamp(window.expires_at, UTC),
        )


def _client_of(claims: Mapping[str, Any]) -> str:
    issuer = _claims.text_claim(claims, "iss")
    subject = _claims.text_claim(claims, "sub")
    if issuer != subject:
        raise Unauthenticated("assertion iss and sub must both be the client id")
    assert issuer is not None
    return issuer
