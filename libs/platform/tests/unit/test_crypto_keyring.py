"""Field encryption: round trips, bound contexts, tampering, rotation. Synthetic text only."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerbridge_platform.crypto import (
    DecryptionFailed,
    Keyring,
    KeySpec,
    MalformedToken,
    UnknownKey,
    field_context,
    new_key_entry,
    parse_keys,
)

PLAINTEXT = b"Synthetic member asks for help starting treatment."
CONTEXT = field_context("referrals", "reason", "00000000-0000-4000-8000-000000000001")
OTHER_ROW = field_context("referrals", "reason", "00000000-0000-4000-8000-000000000002")


def keyring(*key_ids: str) -> Keyring:
    return Keyring.from_setting(",".join(new_key_entry(key_id) for key_id in key_ids))


@pytest.fixture(scope="module")
def k1() -> KeySpec:
    return parse_keys(new_key_entry("k1"))[0]


@pytest.fixture(scope="module")
def k2() -> KeySpec:
    return parse_keys(new_key_entry("k2"))[0]


def test_a_token_opens_to_its_plaintext() -> None:
    ring = keyring("k1")
    token = ring.encrypt(PLAINTEXT, context=CONTEXT)

    assert PLAINTEXT not in token
    assert ring.decrypt(token, context=CONTEXT) == PLAINTEXT


def test_the_same_plaintext_seals_differently_each_time() -> None:
    ring = keyring("k1")

    assert ring.encrypt(PLAINTEXT, context=CONTEXT) != ring.encrypt(PLAINTEXT, context=CONTEXT)


def test_a_token_does_not_open_for_another_row() -> None:
    ring = keyring("k1")
    token = ring.encrypt(PLAINTEXT, context=CONTEXT)

    with pytest.raises(DecryptionFailed) as caught:
        ring.decrypt(token, context=OTHER_ROW)
    assert "Synthetic" not in str(caught.value)


@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_is_refused(position: int, flip: int) -> None:
    ring = Keyring([KeySpec("k1", b"\x07" * 32)])
    token = bytearray(ring.encrypt(PLAINTEXT, context=CONTEXT))
    token[position % len(token)] ^= flip

    with pytest.raises((DecryptionFailed, UnknownKey)):
        ring.decrypt(bytes(token), context=CONTEXT)


@pytest.mark.parametrize("cut", [0, 1, 5, 20])
def test_truncated_or_empty_tokens_are_malformed(cut: int) -> None:
    ring = keyring("k1")
    token = ring.encrypt(b"", context=CONTEXT)

    with pytest.raises(MalformedToken):
        ring.decrypt(token[:cut], context=CONTEXT)


def test_an_unknown_version_is_malformed() -> None:
    ring = keyring("k1")
    token = ring.encrypt(PLAINTEXT, context=CONTEXT)

    with pytest.raises(MalformedToken, match="version"):
        ring.decrypt(b"\x09" + token[1:], context=CONTEXT)


def test_rotation_keeps_old_tokens_readable_and_marks_them(k1: KeySpec, k2: KeySpec) -> None:
    before = Keyring([k1])
    old = before.encrypt(PLAINTEXT, context=CONTEXT)
    after = Keyring([k2, k1])

    assert after.decrypt(old, context=CONTEXT) == PLAINTEXT
    assert after.needs_rotation(old)
    new = after.encrypt(PLAINTEXT, context=CONTEXT)
    assert not after.needs_rotation(new)
    assert new.startswith(after.active_prefix)
    assert not old.startswith(after.active_prefix)


def test_reencrypt_moves_a_token_to_the_active_key(k1: KeySpec, k2: KeySpec) -> None:
    old = Keyring([k1]).encrypt(PLAINTEXT, context=CONTEXT)
    rotated = Keyring([k2, k1]).reencrypt(old, context=CONTEXT)

    assert Keyring([k2]).decrypt(rotated, context=CONTEXT) == PLAINTEXT
    assert Keyring([k2, k1]).reencrypt(rotated, context=CONTEXT) == rotated


def test_a_retired_key_id_is_named_without_key_material(k1: KeySpec, k2: KeySpec) -> None:
    old = Keyring([k1]).encrypt(PLAINTEXT, context=CONTEXT)

    with pytest.raises(UnknownKey) as caught:
        Keyring([k2]).decrypt(old, context=CONTEXT)

    assert caught.value.key_id == "k1"
    message = str(caught.value)
    assert "'k1'" in message
    assert base64.b64encode(k1.secret).decode() not in message
    assert "Synthetic" not in message


def test_the_same_key_under_another_id_does_not_open_the_token(k1: KeySpec) -> None:
    token = Keyring([k1]).encrypt(PLAINTEXT, context=CONTEXT)
    renamed = KeySpec("k9", k1.secret)
    # The key id is authenticated: swapping it in the header breaks the tag.
    forged = token[:1] + bytes([2]) + b"k9" + token[4:]

    with pytest.raises(DecryptionFailed):
        Keyring([renamed]).decrypt(forged, context=CONTEXT)


def test_a_keyring_shows_key_ids_only(k1: KeySpec, k2: KeySpec) -> None:
    ring = Keyring([k2, k1])

    assert ring.active_key_id == "k2"
    assert ring.key_ids == ("k2", "k1")
    for spec in (k1, k2):
        assert base64.b64encode(spec.secret).decode() not in repr(ring)
        assert repr(spec.secret) not in repr(spec)


@given(plaintext=st.binary(max_size=4096), context=st.binary(max_size=256))
def test_every_plaintext_and_context_round_trips(plaintext: bytes, context: bytes) -> None:
    ring = Keyring([KeySpec("k1", b"\x01" * 32)])
    token = ring.encrypt(plaintext, context=context)

    assert ring.decrypt(token, context=context) == plaintext
    assert not ring.needs_rotation(token)


@given(parts=st.lists(st.text(max_size=8), max_size=4), other=st.lists(st.text(max_size=8)))
def test_contexts_differ_whenever_their_parts_do(parts: list[str], other: list[str]) -> None:
    assert (field_context(*parts) == field_context(*other)) == (parts == other)
