"""Idempotency-Key values and request fingerprints."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

HEADER = "Idempotency-Key"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
KEY_RULE = "must be 1 to 255 visible ASCII characters (a UUID is a good choice)"


def is_valid_key(value: str) -> bool:
    return _KEY.fullmatch(value) is not None


def fingerprint(*, method: str, path: str, caller: str, body: Any) -> str:
    """sha256 of the request as it matters: same method, path, caller and (JSON) body, same value.

    The body is canonical JSON (sorted keys, no spaces), so key order and
    whitespace do not change it.
    """
    canonical = json.dumps(
        {"method": method.upper(), "path": path, "caller": caller, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
