"""Claim checks shared by access tokens and client assertions.

PyJWT checks signatures and `iss`/`aud`; times are checked here against an
injectable clock, with types checked strictly (a boolean or a string is not a
NumericDate), and with an upper bound on a token's lifetime.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Unauthenticated

MAX_TEXT_CLAIM = 256


@dataclass(frozen=True)
class Window:
    issued_at: float | None
    not_before: float | None
    expires_at: float


def numeric_date(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise Unauthenticated(f"token lacks the {name} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Unauthenticated(f"token claim {name} is not a NumericDate")
    return float(value)


def check_window(
    claims: Mapping[str, Any],
    *,
    now: float,
    leeway_s: float,
    max_lifetime_s: float,
    require_iat: bool,
    require_nbf: bool,
) -> Window:
    """exp in the future, nbf and iat not in the future, exp - iat within the maximum."""
    expires_at = numeric_date(claims, "exp", required=True)
    assert expires_at is not None
    issued_at = numeric_date(claims, "iat", required=require_iat)
    not_before = numeric_date(claims, "nbf", required=require_nbf)
    if expires_at <= now - leeway_s:
        raise Unauthenticated("token expired")
    if not_before is not None and not_before > now + leeway_s:
        raise Unauthenticated("token not yet valid")
    if issued_at is not None and issued_at > now + leeway_s:
        raise Unauthenticated("token issued in the future")
    if issued_at is not None and expires_at - issued_at > max_lifetime_s + leeway_s:
        raise Unauthenticated("token lifetime is too long")
    return Window(issued_at, not_before, expires_at)


def text_claim(claims: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise Unauthenticated(f"token lacks the {name} claim")
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT_CLAIM:
        raise Unauthenticated(f"token claim {name} is not a short string")
    if not value.isprintable():
        raise Unauthenticated(f"token claim {name} holds control characters")
    return value
