"""Asymmetric signing keys, their public halves, and a key set that rotates.

Every key is bound to exactly one algorithm when it is created or loaded, and
a verifier only ever uses a key with that algorithm (RFC 8725 §3.1): a token's
`alg` header can choose nothing, so there is no key confusion. Symmetric keys
(`oct`, HS*) and `none` are not representable at all. A key's `kid` is its
RFC 7638 thumbprint, so it is stable across processes and derived from the
key itself rather than chosen by hand.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

DEFAULT_ALGORITHM = "EdDSA"
# NIST SP 800-131A: RSA below 2048 bits is no longer acceptable for signatures.
MIN_RSA_BITS = 2048
_RSA_BITS = 3072
_MAX_KID_LENGTH = 256
# JWK members that only a private (or symmetric) key has; a public JWKS never holds them.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class KeyFormatError(ValueError):
    """A key (PEM or JWK) is malformed, private where it should be public, or unsupported."""


@dataclass(frozen=True)
class _Spec:
    kty: str
    curve: str | None  # JWK `crv`; None for RSA
    coordinate_bytes: int = 0  # EC coordinate length, fixed by the curve


_SPECS: dict[str, _Spec] = {
    "EdDSA": _Spec("OKP", "Ed25519"),
    "ES256": _Spec("EC", "P-256", 32),
    "ES384": _Spec("EC", "P-384", 48),
    "RS256": _Spec("RSA", None),
    "RS384": _Spec("RSA", None),
}
SUPPORTED_ALGORITHMS = frozenset(_SPECS)
_EC_CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 (and RFC 8037 for OKP) SHA-256 thumbprint of a public JWK, base64url."""
    required = {
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
        "RSA": ("e", "kty", "n"),
    }
    members = required.get(str(jwk.get("kty")))
    if members is None:
        raise KeyFormatError("thumbprints are defined here for EC, OKP and RSA keys only")
    try:
        canonical = {name: str(jwk[name]) for name in members}
    except KeyError as missing:
        raise KeyFormatError(f"JWK lacks the member {missing}") from None
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return _b64url(hashlib.sha256(text.encode()).digest())


@dataclass(frozen=True, eq=False)
class VerificationKey:
    """A public key pinned to one algorithm, found by `kid`."""

    kid: str
    algorithm: str
    public_key: PublicKey

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        _check_key_matches(self.algorithm, self.public_key)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> VerificationKey:
        """A public signing key from a JWK; refuses private, symmetric and mismatched keys.

        The algorithm is the JWK's `alg`, or follows from `kty`/`crv` where that is
        unambiguous (OKP Ed25519 → EdDSA, EC P-256 → ES256, EC P-384 → ES384). An
        RSA key names its `alg`, because RS256 and RS384 share a key type.
        """
        if not isinstance(jwk, Mapping):
            raise KeyFormatError("a JWK is a JSON object")
        kty = jwk.get("kty")
        if kty == "oct" or _PRIVATE_MEMBERS & set(jwk):
            raise KeyFormatError("only public asymmetric keys are accepted")
        if jwk.get("use", "sig") != "sig":
            raise KeyFormatError("the key is not meant for signatures (use)")
        key_ops = jwk.get("key_ops")
        if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
            raise KeyFormatError("the key is not meant for verification (key_ops)")
        algorithm = _algorithm_of(jwk)
        spec = _SPECS[algorithm]
        if kty != spec.kty or (spec.curve is not None and jwk.get("crv") != spec.curve):
            raise KeyFormatError(f"the key type does not fit algorithm {algorithm}")
        try:
            parsed = jwt.PyJWK(dict(jwk), algorithm=algorithm)
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise KeyFormatError(f"not a valid {algorithm} public key") from error
        kid = jwk.get("kid", thumbprint(jwk))
        if not isinstance(kid, str):
            raise KeyFormatError("kid must be a string")
        return cls(kid=kid, algorithm=algorithm, public_key=parsed.key)

    def to_jwk(self) -> dict[str, str]:
        """The public JWK, with `kid`, `alg` and `use`: what a JWKS publishes."""
        members = _public_members(self.algorithm, self.public_key)
        return {**members, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def thumbprint(self) -> str:
        return thumbprint(_public_members(self.algorithm, self.public_key))

    def pyjwk(self) -> jwt.PyJWK:
        """The key as PyJWT's JWK object, which pins verification to `algorithm`."""
        return jwt.PyJWK(self.to_jwk(), algorithm=self.algorithm)

    def __repr__(self) -> str:
        return f"VerificationKey(kid={self.kid!r}, algorithm={self.algorithm!r})"


class SigningKey:
    """A private key with its algorithm and `kid`. Never printed, never logged."""

    __slots__ = ("_algorithm", "_kid", "_private_key", "_verification_key")

    def __init__(
        self, private_key: PrivateKey, algorithm: str = DEFAULT_ALGORITHM, kid: str | None = None
    ) -> None:
        public_key = private_key.public_key()
        _check_key_matches(algorithm, public_key)
        self._private_key = private_key
        self._algorithm = algorithm
        self._kid = kid if kid is not None else thumbprint(_public_members(algorithm, public_key))
        self._verification_key = VerificationKey(self._kid, algorithm, public_key)

    @classmethod
    def generate(cls, algorithm: str = DEFAULT_ALGORITHM) -> SigningKey:
        spec = _spec(algorithm)
        key: PrivateKey
        if spec.kty == "OKP":
            key = ed25519.Ed25519PrivateKey.generate()
        elif spec.kty == "EC":
            assert spec.curve is not None
            key = ec.generate_private_key(_EC_CURVES[spec.curve]())
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
        return cls(key, algorithm)

    @classmethod
    def from_pem(
        cls,
        pem: bytes,
        *,
        algorithm: str | None = None,
        password: bytes | None = None,
        kid: str | None = None,
    ) -> SigningKey:
        """Load a PKCS#8 (or traditional) PEM private key.

        Without `algorithm`, Ed25519 means EdDSA and EC P-256/P-384 mean ES256/ES384;
        an RSA key needs its algorithm named.
        """
        try:
            key = serialization.load_pem_private_key(pem, password=password)
        except (ValueError, TypeError) as error:
            # The message of the underlying error may quote the input: leave it out.
            raise KeyFormatError("not a readable PEM private key (or wrong password)") from error
        if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            if not isinstance(key, rsa.RSAPrivateKey):
                raise KeyFormatError("only Ed25519, EC P-256/P-384 and RSA keys are supported")
            if algorithm is None:
                raise KeyFormatError("an RSA key needs its algorithm named (RS256 or RS384)")
        return cls(key, algorithm or _algorithm_for_key(key.public_key()), kid)

    def to_pem(self, password: bytes | None = None) -> bytes:
        """PKCS#8 PEM; encrypted with the best available scheme when a password is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @property
    def kid(self) -> str:
        return self._kid

    def verification_key(self) -> VerificationKey:
        return self._verification_key

    def public_jwk(self) -> dict[str, str]:
        return self._verification_key.to_jwk()

    def sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        """A compact JWS of `claims` with `alg`, `kid` and `typ` in the protected header."""
        headers = {"kid": self._kid, "typ": typ}
        return jwt.encode(
            dict(claims), self._private_key, algorithm=self._algorithm, headers=headers
        )

    def __repr__(self) -> str:
        return f"SigningKey(kid={self._kid!r}, algorithm={self._algorithm!r})"

    def __reduce__(self) -> Any:
        # Pickling would copy the private key into places nobody audits.
        raise TypeError("SigningKey cannot be pickled; store it with to_pem(password)")


@dataclass(frozen=True)
class KeySet:
    """One active signing key plus previous keys kept for verification only.

    Rotation: `rotate(new)` makes `new` active and keeps the old active key for
    verification, so tokens in flight stay valid until they expire; `retire(kid)`
    then drops a previous key (after the longest token lifetime has passed).
    A KeySet is immutable: swap the whole set, never edit one in place.
    """

    active: SigningKey
    previous: tuple[VerificationKey, ...] = ()

    def __post_init__(self) -> None:
        kids = [self.active.kid, *(key.kid for key in self.previous)]
        if len(set(kids)) != len(kids):
            raise ValueError("every key in a key set needs its own kid")

    def rotate(self, new_key: SigningKey, *, keep: int = 2) -> KeySet:
        """`new_key` signs from now on; the last `keep` keys before it still verify."""
        if keep < 1:
            raise ValueError("keep at least the key that signed the tokens still in flight")
        demoted = (self.active.verification_key(), *self.previous)
        return KeySet(new_key, demoted[:keep])

    def retire(self, kid: str) -> KeySet:
        if kid == self.active.kid:
            raise ValueError("the active key cannot be retired; rotate first")
        return KeySet(self.active, tuple(key for key in self.previous if key.kid != kid))

    def verification_keys(self) -> tuple[VerificationKey, ...]:
        return (self.active.verification_key(), *self.previous)

    def get(self, kid: str) -> VerificationKey | None:
        return next((key for key in self.verification_keys() if key.kid == kid), None)

    def to_jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWKS document: public keys only, active first."""
        return {"keys": [key.to_jwk() for key in self.verification_keys()]}


def _spec(algorithm: str) -> _Spec:
    try:
        return _SPECS[algorithm]
    except KeyError:
        raise KeyFormatError(
            f"algorithm {algorithm!r} is not supported; use one of {sorted(SUPPORTED_ALGORITHMS)}"
        ) from None


def _algorithm_of(jwk: Mapping[str, Any]) -> str:
    declared = jwk.get("alg")
    if declared is not None:
        if not isinstance(declared, str) or declared not in _SPECS:
            raise KeyFormatError("the JWK names an algorithm that is not accepted")
        return declared
    kty, crv = jwk.get("kty"), jwk.get("crv")
    inferred = {("OKP", "Ed25519"): "EdDSA", ("EC", "P-256"): "ES256", ("EC", "P-384"): "ES384"}
    try:
        return inferred[(kty, crv)]  # type: ignore[index]
    except (KeyError, TypeError):
        raise KeyFormatError("the JWK needs an alg (or an Ed25519, P-256 or P-384 key)") from None


def _algorithm_for_key(public_key: PublicKey) -> str:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        by_curve = {"secp256r1": "ES256", "secp384r1": "ES384"}
        if public_key.curve.name in by_curve:
            return by_curve[public_key.curve.name]
    raise KeyFormatError("only Ed25519, EC P-256/P-384 and RSA keys are supported")


def _check_key_matches(algorithm: str, public_key: object) -> None:
    spec = _spec(algorithm)
    if spec.kty == "OKP":
        ok = isinstance(public_key, ed25519.Ed25519PublicKey)
    elif spec.kty == "EC":
        assert spec.curve is not None
        ok = isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
            public_key.curve, _EC_CURVES[spec.curve]
        )
    else:
        ok = isinstance(public_key, rsa.RSAPublicKey)
        if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < MIN_RSA_BITS:
            raise KeyFormatError(f"RSA keys need at least {MIN_RSA_BITS} bits")
    if not ok:
        raise KeyFormatError(f"the key does not fit algorithm {algorithm}")


def _check_kid(kid: object) -> None:
    if not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID_LENGTH or not kid.isprintable():
        raise KeyFormatError(f"kid must be printable text of 1 to {_MAX_KID_LENGTH} characters")


def _public_members(algorithm: str, public_key: PublicKey) -> dict[str, str]:
    spec = _spec(algorithm)
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        numbers = public_key.public_numbers()
        size = spec.coordinate_bytes
        return {
            "kty": "EC",
            "crv": str(spec.curve),
            "x": _b64url(numbers.x.to_bytes(size, "big")),
            "y": _b64url(numbers.y.to_bytes(size, "big")),
        }
    numbers_rsa = public_key.public_numbers()
    return {"kty": "RSA", "n": _b64url(_uint(numbers_rsa.n)), "e": _b64url(_uint(numbers_rsa.e))}


def _uint(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def check_algorithms(algorithms: Sequence[str]) -> tuple[str, ...]:
    """Validate an allow-list of algorithms: supported, asymmetric, never `none`."""
    for name in algorithms:
        _spec(name)
    if not algorithms:
        raise KeyFormatError("the algorithm allow-list must not be empty")
    return tuple(dict.fromkeys(algorithms))
