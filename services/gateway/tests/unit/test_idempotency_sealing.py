"""Recorded responses sealed for one key row: they open there and nowhere else."""

from __future__ import annotations

import pytest

from peerbridge_gateway.idempotency.sealing import ResponseSealer
from peerbridge_gateway.idempotency.store import KeyScope, StoredResponse
from peerbridge_platform.crypto import DecryptionFailed, Keyring

SCOPE = KeyScope("partner:test", "key-1")
RESPONSE = StoredResponse(
    201,
    (("content-type", "application/json"), ("location", "/v1/referrals/r-1")),
    b'{"reason":"Synthetic reason (test)."}',
)


@pytest.fixture
def sealer(encryption_keys: str) -> ResponseSealer:
    return ResponseSealer(Keyring.from_setting(encryption_keys))


def test_a_sealed_response_opens_for_its_key(sealer: ResponseSealer) -> None:
    headers, body = sealer.seal(SCOPE, RESPONSE)

    assert b"Synthetic" not in body
    assert b"/v1/referrals" not in headers
    assert sealer.open(SCOPE, 201, headers, body) == RESPONSE


@pytest.mark.parametrize(
    "other", [KeyScope("partner:test", "key-2"), KeyScope("partner:other", "key-1")]
)
def test_it_does_not_open_for_another_key_or_caller(
    sealer: ResponseSealer, other: KeyScope
) -> None:
    headers, body = sealer.seal(SCOPE, RESPONSE)

    with pytest.raises(DecryptionFailed):
        sealer.open(other, 201, headers, body)


def test_headers_and_body_cannot_trade_places(sealer: ResponseSealer) -> None:
    headers, body = sealer.seal(SCOPE, RESPONSE)

    with pytest.raises(DecryptionFailed):
        sealer.open(SCOPE, 201, body, headers)
