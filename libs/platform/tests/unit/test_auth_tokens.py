"""Access tokens: issue, verify, and every way a bad token must fail (RFC 8725)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerbridge_platform.auth import (
    KeyFormatError,
    KeySet,
    Principal,
    Role,
    SigningKey,
    StaticJwksSource,
    TokenVerifier,
    issue_access_token,
)
from peerbridge_platform.errors import Unauthenticated

ISSUER = "https://identity.peerbridge.test"
AUDIENCE = "peerbridge"
NOW = datetime(2030, 5, 17, 9, 30, tzinfo=UTC)
KEY = SigningKey.generate()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)]
    )


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    header, claims, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(claims)), unb64(signature)


def issue(key: SigningKey = KEY, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject": "member-7f3a",
        "roles": [Role.MEMBER],
        "scopes": ["referrals.read", "checkins.write"],
        "organization_id": "org-riverside",
        "now": NOW,
    }
    return issue_access_token(key, **(arguments | overrides))


def verifier(keys: KeySet | None = None, *, at: datetime = NOW, **options: Any) -> TokenVerifier:
    source = StaticJwksSource.from_key_set(keys or KeySet(KEY))
    return TokenVerifier(ISSUER, AUDIENCE, source, clock=lambda: at.timestamp(), **options)


async def refused(token: str, check: TokenVerifier | None = None) -> str:
    with pytest.raises(Unauthenticated) as caught:
        await (check or verifier()).verify(token)
    message = caught.value.message
    # Safe messages: never any part of the token.
    for segment in token.split("."):
        if len(segment) > 8:
            assert segment not in message
    return message


async def test_round_trip_gives_the_principal() -> None:
    token = issue(client_id="partner-app", lifetime_s=300)
    header, claims, _ = parts(token)
    assert header == {"alg": "EdDSA", "kid": KEY.kid, "typ": "at+jwt"}
    assert {"iss", "sub", "aud", "exp", "iat", "nbf", "jti"} <= set(claims)
    principal = await verifier().verify(token)
    assert principal == Principal(
        subject="member-7f3a",
        roles=frozenset({Role.MEMBER}),
        scopes=frozenset({"referrals.read", "checkins.write"}),
        organization_id="org-riverside",
        client_id="partner-app",
        token_id=claims["jti"],
        expires_at=NOW + timedelta(seconds=300),
    )


async def test_es256_keys_work_too() -> None:
    key = SigningKey.generate("ES256")
    principal = await verifier(KeySet(key)).verify(issue(key))
    assert principal.subject == "member-7f3a"


async def test_audience_may_be_a_list_that_includes_ours() -> None:
    principal = await verifier().verify(issue(audience=["other-api", AUDIENCE]))
    assert principal.subject == "member-7f3a"


async def test_unknown_roles_grant_nothing() -> None:
    _, claims, _ = parts(issue())
    claims["roles"] = ["member", "superuser"]
    token = KEY.sign(claims, typ="at+jwt")
    assert (await verifier().verify(token)).roles == {Role.MEMBER}


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (NOW + timedelta(seconds=300 + 31), "token expired"),
        (NOW - timedelta(seconds=31), "token not yet valid"),
    ],
)
async def test_time_window_is_enforced_beyond_the_leeway(at: datetime, message: str) -> None:
    assert await refused(issue(), verifier(at=at)) == message


@pytest.mark.parametrize("offset_s", [-29, 300 + 29])
async def test_leeway_absorbs_small_clock_skew(offset_s: int) -> None:
    at = NOW + timedelta(seconds=offset_s)
    assert (await verifier(at=at).verify(issue())).subject == "member-7f3a"


async def test_issued_in_the_future_is_refused() -> None:
    _, claims, _ = parts(issue())
    claims["iat"] += 3600
    assert await refused(KEY.sign(claims, typ="at+jwt")) == "token issued in the future"


async def test_overlong_lifetime_is_refused() -> None:
    _, claims, _ = parts(issue())
    claims["exp"] = claims["iat"] + 7 * 24 * 3600
    assert await refused(KEY.sign(claims, typ="at+jwt")) == "token lifetime is too long"


async def test_wrong_issuer_and_audience_are_refused() -> None:
    assert await refused(issue(issuer="https://evil.test")) == "token has the wrong issuer"
    assert await refused(issue(audience="another-api")) == "token has the wrong audience"


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"])
async def test_every_registered_claim_is_required(claim: str) -> None:
    _, claims, _ = parts(issue())
    del claims[claim]
    assert claim in await refused(KEY.sign(claims, typ="at+jwt"))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", "tomorrow"),
        ("exp", True),
        ("sub", 42),
        ("sub", ""),
        ("sub", "x" * 300),
        ("roles", "admin"),
        ("roles", [1]),
        ("scope", ["referrals.read"]),
        ("organization_id", {"id": 1}),
    ],
)
async def test_claims_of_the_wrong_type_are_refused(claim: str, value: object) -> None:
    _, claims, _ = parts(issue())
    claims[claim] = value
    await refused(KEY.sign(claims, typ="at+jwt"))


async def test_tampered_payload_is_refused() -> None:
    header, claims, signature = parts(issue())
    claims["roles"] = ["admin"]
    assert await refused(forge(header, claims, signature)) == "token signature is invalid"


async def test_tampered_signature_is_refused() -> None:
    header, claims, signature = parts(issue())
    flipped = bytes([signature[0] ^ 0x01]) + signature[1:]
    assert await refused(forge(header, claims, flipped)) == "token signature is invalid"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
async def test_alg_none_is_refused(alg: str) -> None:
    header, claims, _ = parts(issue())
    header["alg"] = alg
    token = forge(header, claims, b"\x00" * 64)
    assert await refused(token) == "token algorithm is not accepted"
    assert await refused(forge(header, claims)) == "token is malformed"


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """The classic key confusion: HMAC keyed with the verifier's public key."""
    public_pem = KEY.verification_key().public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header, claims, _ = parts(issue())
    for secret in (public_pem, unb64(KEY.public_jwk()["x"]), json.dumps(KEY.public_jwk()).encode()):
        header["alg"] = "HS256"
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert await refused(f"{signing_input}.{b64(mac)}") == "token algorithm is not accepted"


@pytest.mark.parametrize("algorithms", [("HS256",), ("none",), ("EdDSA", "HS384"), ()])
def test_allow_list_cannot_include_symmetric_algorithms_or_none(
    algorithms: tuple[str, ...],
) -> None:
    with pytest.raises(KeyFormatError):
        verifier(allowed_algorithms=algorithms)


async def test_header_alg_must_match_the_keys_algorithm() -> None:
    """An ES256 token that names an EdDSA key's kid: both algorithms allowed, still refused."""
    es_key = SigningKey.generate("ES256")
    forged = SigningKey(
        _private_of(es_key), "ES256", kid=KEY.kid
    )  # an attacker's key, labelled with our kid
    assert await refused(issue(forged)) == "token algorithm does not match its key"


async def test_algorithm_outside_the_allow_list_is_refused_even_if_the_key_exists() -> None:
    es384 = SigningKey.generate("ES384")
    assert await refused(issue(es384), verifier(KeySet(es384))) == "token algorithm is not accepted"


async def test_unknown_kid_is_refused() -> None:
    stranger = SigningKey.generate()
    assert await refused(issue(stranger)) == "token signed by an unknown key"


async def test_missing_kid_is_refused() -> None:
    header, claims, signature = parts(issue())
    del header["kid"]
    assert await refused(forge(header, claims, signature)) == "token has no usable key id"


async def test_wrong_key_for_kid_is_refused() -> None:
    impostor = SigningKey(_private_of(SigningKey.generate()), "EdDSA", kid=KEY.kid)
    assert await refused(issue(impostor)) == "token signature is invalid"


async def test_other_jwt_types_do_not_pass_for_access_tokens() -> None:
    _, claims, _ = parts(issue())
    assert await refused(KEY.sign(claims, typ="JWT")) == "token is not an access token"


@pytest.mark.parametrize("extra", [{"crit": ["exp"]}, {"b64": False, "crit": ["b64"]}])
async def test_critical_header_extensions_are_refused(extra: dict[str, Any]) -> None:
    header, claims, signature = parts(issue())
    await refused(forge(header | extra, claims, signature))


async def test_rotation_previous_key_verifies_until_removed() -> None:
    old, new = SigningKey.generate(), SigningKey.generate()
    token_in_flight = issue(old)
    rotated = KeySet(old).rotate(new)
    check = verifier(rotated)
    assert (await check.verify(token_in_flight)).subject == "member-7f3a"
    assert (await check.verify(issue(new))).subject == "member-7f3a"
    retired = verifier(rotated.retire(old.kid))
    assert await refused(token_in_flight, retired) == "token signed by an unknown key"


async def test_oversized_tokens_are_refused_before_parsing() -> None:
    assert await refused("a" * 10_000 + ".b.c") == "token is malformed"


def test_issuing_refuses_bad_lifetimes_and_scopes() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        issue(lifetime_s=86_400)
    with pytest.raises(ValueError, match="scope"):
        issue(scopes=['bad"scope'])
    with pytest.raises(ValueError, match="superuser"):
        issue(roles=["superuser"])


def _private_of(key: SigningKey) -> Any:
    return serialization.load_pem_private_key(key.to_pem(), password=None)


# --- fuzzing: garbage never verifies and only ever raises Unauthenticated -----------------

VERIFIER = verifier()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


def run_verify(token: str) -> None:
    with pytest.raises(Unauthenticated):
        asyncio.run(VERIFIER.verify(token))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_random_text_never_verifies(token: str) -> None:
    run_verify(token)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    header=st.fixed_dictionaries(
        {},
        optional={
            "alg": st.sampled_from(["EdDSA", "ES256", "HS256", "none", "RS256"]) | json_values,
            "kid": st.just(KEY.kid) | json_values,
            "typ": st.just("at+jwt") | json_values,
            "crit": json_values,
        },
    ),
    claims=st.dictionaries(st.sampled_from(["iss", "sub", "aud", "exp", "roles"]), json_values)
    | json_values,
    signature=st.binary(max_size=80),
)
def test_structured_garbage_never_verifies(header: Any, claims: Any, signature: bytes) -> None:
    run_verify(forge(header, claims, signature))


GOOD = issue()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(position=st.integers(0, len(GOOD) - 1), replacement=st.characters(codec="ascii"))
def test_a_changed_character_never_verifies(position: int, replacement: str) -> None:
    mutated = GOOD[:position] + replacement + GOOD[position + 1 :]
    try:
        asyncio.run(verifier(at=NOW).verify(mutated))
    except Unauthenticated:
        return
    # Base64url's spare low bits: the same bytes, spelled differently, are not a forgery.
    assert [unb64(s) for s in mutated.split(".")] == [unb64(s) for s in GOOD.split(".")]
