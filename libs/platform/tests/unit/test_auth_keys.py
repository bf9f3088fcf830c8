"""Signing keys, JWKs, thumbprints and key sets."""

from __future__ import annotations

import pickle

import pytest

from peerbridge_platform.auth import KeyFormatError, KeySet, SigningKey, VerificationKey, thumbprint

# RFC 7638 §3.1: the example RSA key and its thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJEC"
        "PebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvz"
        "qY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZ"
        "u0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
# RFC 8037 §A.3: the example Ed25519 public key and its thumbprint.
RFC8037_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_thumbprints_match_the_rfc_examples() -> None:
    assert thumbprint(RFC7638_JWK) == RFC7638_THUMBPRINT
    assert thumbprint(RFC8037_JWK) == RFC8037_THUMBPRINT
    key = VerificationKey.from_jwk(RFC8037_JWK)
    assert key.kid == RFC8037_THUMBPRINT
    assert key.algorithm == "EdDSA"
    assert VerificationKey.from_jwk(RFC7638_JWK).thumbprint() == RFC7638_THUMBPRINT


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "ES384"])
def test_generated_keys_have_thumbprint_kids_and_public_jwks(algorithm: str) -> None:
    key = SigningKey.generate(algorithm)
    jwk = key.public_jwk()
    assert key.kid == thumbprint(jwk) == jwk["kid"]
    assert jwk["alg"] == algorithm
    assert jwk["use"] == "sig"
    assert "d" not in jwk
    parsed = VerificationKey.from_jwk(jwk)
    assert (parsed.kid, parsed.algorithm) == (key.kid, algorithm)


def test_default_algorithm_is_eddsa() -> None:
    assert SigningKey.generate().algorithm == "EdDSA"


@pytest.mark.parametrize("password", [None, b"correct horse battery staple"])
def test_pem_round_trip_keeps_the_key(password: bytes | None) -> None:
    key = SigningKey.generate("ES256")
    pem = key.to_pem(password)
    assert pem.startswith(
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----" if password else b"-----BEGIN PRIVATE KEY-----"
    )
    loaded = SigningKey.from_pem(pem, password=password)
    assert (loaded.kid, loaded.algorithm) == (key.kid, key.algorithm)


def test_pem_with_a_wrong_password_is_refused_without_echoing_it() -> None:
    pem = SigningKey.generate().to_pem(b"right")
    with pytest.raises(KeyFormatError) as caught:
        SigningKey.from_pem(pem, password=b"wrong")
    assert "wrong" not in str(caught.value).replace("(or wrong password)", "")


def test_rsa_pem_needs_its_algorithm_named() -> None:
    pem = SigningKey.generate("RS384").to_pem()
    with pytest.raises(KeyFormatError, match="RS256 or RS384"):
        SigningKey.from_pem(pem)
    assert SigningKey.from_pem(pem, algorithm="RS384").algorithm == "RS384"


def test_private_material_never_shows_in_repr_or_pickle() -> None:
    key = SigningKey.generate()
    assert repr(key) == f"SigningKey(kid={key.kid!r}, algorithm='EdDSA')"
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_a_key_cannot_be_bound_to_another_algorithm() -> None:
    ed = SigningKey.generate("EdDSA")
    with pytest.raises(KeyFormatError):
        VerificationKey(ed.kid, "ES256", ed.verification_key().public_key)
    with pytest.raises(KeyFormatError):
        SigningKey.from_pem(SigningKey.generate("ES384").to_pem(), algorithm="ES256")


@pytest.mark.parametrize(
    ("jwk", "problem"),
    [
        ({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}, "public asymmetric"),
        ({**RFC8037_JWK, "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}, "public asymmetric"),
        ({**RFC8037_JWK, "alg": "ES256"}, "does not fit"),
        ({**RFC8037_JWK, "alg": "HS256"}, "not accepted"),
        ({**RFC8037_JWK, "alg": "none"}, "not accepted"),
        ({**RFC8037_JWK, "use": "enc"}, "signatures"),
        ({**RFC8037_JWK, "key_ops": ["sign"]}, "verification"),
        ({k: v for k, v in RFC7638_JWK.items() if k != "alg"}, "needs an alg"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}, "valid EdDSA"),
        ({"kty": "EC", "crv": "P-521"}, "needs an alg"),
        ({**RFC8037_JWK, "kid": 7}, "kid"),
        ("not an object", "JSON object"),
    ],
)
def test_unusable_jwks_are_refused(jwk: object, problem: str) -> None:
    with pytest.raises(KeyFormatError, match=problem):
        VerificationKey.from_jwk(jwk)  # type: ignore[arg-type]


def test_small_rsa_keys_are_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    with pytest.raises(KeyFormatError, match="2048"):
        SigningKey(small, "RS256")


def test_key_set_rotation_keeps_previous_keys_for_verification_only() -> None:
    first, second, third = (SigningKey.generate() for _ in range(3))
    keys = KeySet(first).rotate(second).rotate(third, keep=1)
    assert keys.active is third
    assert [key.kid for key in keys.verification_keys()] == [third.kid, second.kid]
    assert keys.get(first.kid) is None
    retired = keys.retire(second.kid)
    assert [key.kid for key in retired.verification_keys()] == [third.kid]
    with pytest.raises(ValueError, match="active"):
        keys.retire(third.kid)


def test_jwks_export_holds_public_keys_only() -> None:
    keys = KeySet(SigningKey.generate()).rotate(SigningKey.generate("ES256"))
    document = keys.to_jwks()
    assert [jwk["alg"] for jwk in document["keys"]] == ["ES256", "EdDSA"]
    for jwk in document["keys"]:
        assert not {"d", "p", "q", "k"} & set(jwk)
        VerificationKey.from_jwk(jwk)


def test_key_set_refuses_two_keys_with_one_kid() -> None:
    key = SigningKey.generate()
    with pytest.raises(ValueError, match="own kid"):
        KeySet(key, (key.verification_key(),))
