"""Page sizes and opaque page tokens for newest-first listings.

A token is URL-safe base64 of a small JSON object: the position after which
the next page starts, and a fingerprint of the filters, so a token cannot be
replayed with other filters (which would silently skip or repeat rows).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from peerbridge_platform.errors import FieldViolation, InvalidArgument

from ..domain.rules import check_opaque_id
from .repository import Cursor, ReferralFilter

_TOKEN_VERSION = 1


@dataclass(frozen=True)
class PageLimits:
    default_size: int = 50
    max_size: int = 200

    def size_for(self, requested: int) -> int:
        """The page size to use for a non-negative request: the default for 0, capped."""
        return min(requested or self.default_size, self.max_size)


def check_member_listing(subject_member_id: str, page_size: int) -> None:
    """Refuse a listing of one member's records (consents, disclosures), naming each bad
    field."""
    violations: list[FieldViolation] = []
    check_opaque_id("subject_member_id", subject_member_id, violations)
    if page_size < 0:
        violations.append(FieldViolation("page_size", "must not be negative"))
    if violations:
        raise InvalidArgument("the listing request is not valid", violations)


def _fingerprint(where: ReferralFilter) -> str:
    text = json.dumps([where.subject_member_id, where.status], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_page_token(after: Cursor, where: ReferralFilter) -> str:
    body = {
        "v": _TOKEN_VERSION,
        "t": after.create_time.isoformat(),
        "id": str(after.referral_id),
        "f": _fingerprint(where),
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, where: ReferralFilter) -> Cursor | None:
    """The cursor in `token` (None for an empty token), or InvalidArgument on `page_token`."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        if body["v"] != _TOKEN_VERSION:
            raise ValueError("unknown token version")
        cursor = Cursor(datetime.fromisoformat(body["t"]), UUID(body["id"]))
        fingerprint = body["f"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise _bad_token("is not a page token from this service") from error
    if cursor.create_time.tzinfo is None:
        raise _bad_token("is not a page token from this service")
    if fingerprint != _fingerprint(where):
        raise _bad_token("was issued for other filters; repeat the filters of the first call")
    return cursor


def _bad_token(description: str) -> InvalidArgument:
    return InvalidArgument("page_token is not valid", [FieldViolation("page_token", description)])
