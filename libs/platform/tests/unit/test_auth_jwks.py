"""JWKS documents and the static key source (the HTTP source has integration tests)."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from peerbridge_platform.auth import (
    HttpJwksSource,
    KeyFormatError,
    KeySet,
    SigningKey,
    StaticJwksSource,
    parse_jwks,
)


async def test_static_source_finds_keys_by_kid_and_can_be_swapped() -> None:
    first, second = SigningKey.generate(), SigningKey.generate("ES256")
    source = StaticJwksSource.from_key_set(KeySet(first))
    assert await source.get_key(first.kid) is first.verification_key()
    assert await source.get_key(second.kid) is None
    source.replace(KeySet(first).rotate(second).verification_keys())
    found = await source.get_key(second.kid)
    assert found is not None
    assert found.algorithm == "ES256"


def test_parse_jwks_skips_unusable_keys_and_duplicated_kids() -> None:
    good, twin = SigningKey.generate(), SigningKey.generate()
    twin_jwk = twin.public_jwk() | {"kid": "shared"}
    document = {
        "keys": [
            good.public_jwk(),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "broken", "x": "AA"},
            twin_jwk,
            SigningKey.generate().public_jwk() | {"kid": "shared"},
            "not a key",
        ]
    }
    with capture_logs() as logs:
        keys = parse_jwks(document)
    assert list(keys) == [good.kid]
    assert sum(entry["event"] == "jwks key skipped" for entry in logs) == 3
    # A log line names the problem, never key material.
    assert all("c2VjcmV0" not in str(entry) for entry in logs)


@pytest.mark.parametrize("document", [[], {"keys": "none"}, {"no": "keys"}, None])
def test_parse_jwks_refuses_what_is_not_a_jwks(document: object) -> None:
    with pytest.raises(KeyFormatError):
        parse_jwks(document)


@pytest.mark.parametrize(
    "url",
    ["http://identity.example/jwks", "ftp://127.0.0.1/jwks", "file:///etc/jwks.json"],
)
def test_http_source_needs_https_off_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        HttpJwksSource(url)


async def test_http_source_accepts_loopback_and_opt_in_plain_http() -> None:
    for url, plain in [("http://127.0.0.1:1/jwks", False), ("http://identity:8080/jwks", True)]:
        await HttpJwksSource(url, allow_plain_http=plain).aclose()
