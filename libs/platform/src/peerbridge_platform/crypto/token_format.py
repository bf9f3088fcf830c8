"""The sealed-field token: self-describing, so any key in the keyring can open it later.

Layout (version 1):

    version (1 byte) | key id length n (1 byte) | key id (n ASCII bytes)
    | nonce (12 bytes) | AES-256-GCM ciphertext with its 16-byte tag

The header (version, key id) is authenticated with the caller's context as
associated data, so neither can be altered without the tag failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MalformedToken

VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16


@dataclass(frozen=True)
class ParsedToken:
    version: int
    key_id: str
    header: bytes
    nonce: bytes
    ciphertext: bytes


def header(key_id: str) -> bytes:
    """The bytes every token sealed under `key_id` begins with."""
    encoded = key_id.encode("ascii")
    return bytes((VERSION, len(encoded))) + encoded


def parse(token: bytes) -> ParsedToken:
    """Split a token into its parts; MalformedToken when it cannot be one."""
    if len(token) < 2:
        raise MalformedToken("the token is too short")
    version, id_length = token[0], token[1]
    if version != VERSION:
        raise MalformedToken(f"unsupported token version {version}")
    body_start = 2 + id_length
    if id_length == 0 or len(token) < body_start + NONCE_BYTES + TAG_BYTES:
        raise MalformedToken("the token is truncated")
    try:
        key_id = token[2:body_start].decode("ascii")
    except UnicodeDecodeError:
        raise MalformedToken("the token's key id is not ASCII") from None
    return ParsedToken(
        version=version,
        key_id=key_id,
        header=token[:body_start],
        nonce=token[body_start : body_start + NONCE_BYTES],
        ciphertext=token[body_start + NONCE_BYTES :],
    )
