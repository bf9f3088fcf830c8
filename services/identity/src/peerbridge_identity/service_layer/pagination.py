"""Page sizes and opaque page tokens for listings ordered by id.

A token is URL-safe base64 of a small JSON object: the id after which the
next page starts, and a fingerprint of the filters, so a token cannot be
replayed with other filters (which would silently skip or repeat rows).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from uuid import UUID

from peerbridge_platform.errors import FieldViolation, InvalidArgument

_TOKEN_VERSION = 1


@dataclass(frozen=True)
class PageLimits:
    default_size: int = 50
    max_size: int = 200

    def size_for(self, requested: int) -> int:
        """The page size to use for a non-negative request: the default for 0, capped."""
        return min(requested or self.default_size, self.max_size)


def _fingerprint(filters: object) -> str:
    text = json.dumps(filters, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_page_token(after: UUID, filters: object) -> str:
    body = {"v": _TOKEN_VERSION, "id": str(after), "f": _fingerprint(filters)}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, filters: object) -> UUID | None:
    """The id in `token` (None for an empty token), or InvalidArgument on `page_token`."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        if body["v"] != _TOKEN_VERSION:
            raise ValueError("unknown token version")
        after = UUID(body["id"])
        fingerprint = body["f"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise _bad_token("is not a page token from this service") from error
    if fingerprint != _fingerprint(filters):
        raise _bad_token("was issued for other filters; repeat the filters of the first call")
    return after


def _bad_token(description: str) -> InvalidArgument:
    return InvalidArgument("page_token is not valid", [FieldViolation("page_token", description)])
