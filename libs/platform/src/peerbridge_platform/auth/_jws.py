"""Shared, careful handling of compact JWS: shape, header, pinned algorithm, signature.

Everything here raises Unauthenticated with a message that names the
problem and never echoes the token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jwt

from ..errors import Unauthenticated
from . import _claims

# Far above any token we issue or accept; a bigger one is refused before it is parsed.
MAX_TOKEN_LENGTH = 8 * 1024
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def unverified_header(token: object) -> dict[str, Any]:
    """The header of a compact JWS, after cheap shape checks and before any cryptography."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise Unauthenticated("token is malformed")
    if not _COMPACT_JWS.fullmatch(token):
        raise Unauthenticated("token is malformed")
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise Unauthenticated("token is malformed") from None
    # We use no JWS extensions: a critical one we cannot honour means refuse
    # (RFC 7515 §4.1.11), and b64=false would change what is signed (RFC 7797).
    if "crit" in header or "b64" in header:
        raise Unauthenticated("token uses unsupported header parameters")
    return header


def pinned_algorithm(header: Mapping[str, Any], allowed: frozenset[str]) -> tuple[str, str]:
    """The header's `alg` (only from the allow-list, so never `none` or HS*) and its `kid`."""
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in allowed:
        raise Unauthenticated("token algorithm is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= _claims.MAX_TEXT_CLAIM:
        raise Unauthenticated("token has no usable key id")
    return algorithm, kid


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload before the signature is checked: only to find which key to check it with."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise Unauthenticated("token is malformed") from None
    if not isinstance(claims, dict):
        raise Unauthenticated("token is malformed")
    return claims


def verified_claims(
    token: str, key: jwt.PyJWK, algorithm: str, *, audience: str, issuer: str
) -> dict[str, Any]:
    """Signature, then `iss` and `aud`, by PyJWT; times are checked by `_claims`."""
    options: jwt.types.Options = {
        "verify_signature": True,
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
        "verify_aud": True,
        "verify_iss": True,
        "enforce_minimum_key_length": True,
    }
    try:
        claims = jwt.decode(
            token, key, algorithms=[algorithm], audience=audience, issuer=issuer, options=options
        )
    except jwt.InvalidSignatureError:
        raise Unauthenticated("token signature is invalid") from None
    except jwt.InvalidIssuerError:
        raise Unauthenticated("token has the wrong issuer") from None
    except jwt.InvalidAudienceError:
        raise Unauthenticated("token has the wrong audience") from None
    except jwt.MissingRequiredClaimError as error:
        raise Unauthenticated(f"token lacks the {error.claim} claim") from None
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise Unauthenticated("token is malformed") from None
    if not isinstance(claims, dict):
        raise Unauthenticated("token is malformed")
    return claims
