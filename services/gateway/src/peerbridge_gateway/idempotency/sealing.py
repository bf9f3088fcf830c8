"""Recorded responses sealed at rest: a replayed body can hold a referral's free-text reason."""

from __future__ import annotations

import json

from peerbridge_platform.crypto import Keyring, field_context

from .store import KeyScope, StoredResponse

_TABLE = "idempotency_keys"


class ResponseSealer:
    """Seals a response's headers and body, each bound to its key row and column.

    A sealed body therefore opens only as the body of the same caller's same
    key: copying it to another row, or into the headers column, fails.
    """

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def seal(self, scope: KeyScope, response: StoredResponse) -> tuple[bytes, bytes]:
        """The sealed headers and body."""
        headers = json.dumps([list(pair) for pair in response.headers]).encode()
        return (
            self._keyring.encrypt(headers, context=_context(scope, "response_headers")),
            self._keyring.encrypt(response.body, context=_context(scope, "response_body")),
        )

    def open(
        self, scope: KeyScope, status_code: int, sealed_headers: bytes, sealed_body: bytes
    ) -> StoredResponse:
        headers = self._keyring.decrypt(sealed_headers, context=_context(scope, "response_headers"))
        body = self._keyring.decrypt(sealed_body, context=_context(scope, "response_body"))
        pairs = tuple((str(name), str(value)) for name, value in json.loads(headers))
        return StoredResponse(status_code, pairs, body)


def _context(scope: KeyScope, column: str) -> bytes:
    return field_context("gateway", _TABLE, column, scope.caller, scope.key)
