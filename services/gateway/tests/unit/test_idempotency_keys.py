"""Idempotency-Key values and request fingerprints."""

from __future__ import annotations

import json
import string

from hypothesis import given
from hypothesis import strategies as st

from peerbridge_gateway.clients.referrals_grpc import request_id_for
from peerbridge_gateway.idempotency.keys import fingerprint, is_valid_key

VISIBLE_ASCII = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@given(st.text(VISIBLE_ASCII, min_size=1, max_size=255))
def test_visible_ascii_keys_of_1_to_255_characters_are_accepted(key: str) -> None:
    assert is_valid_key(key)


@given(st.text(VISIBLE_ASCII, min_size=256, max_size=300))
def test_longer_keys_are_refused(key: str) -> None:
    assert not is_valid_key(key)


@given(
    st.text(VISIBLE_ASCII, max_size=10),
    st.sampled_from([" ", "\t", "\n", "\x00", "\x7f", "é", "🙂"]),
    st.text(VISIBLE_ASCII, max_size=10),
)
def test_keys_with_spaces_controls_or_non_ascii_are_refused(
    before: str, bad: str, after: str
) -> None:
    assert not is_valid_key(before + bad + after)
    assert not is_valid_key("")


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_the_fingerprint_ignores_key_order_and_whitespace(body: dict[str, object]) -> None:
    reordered = json.loads(json.dumps(dict(reversed(list(body.items()))), indent=3))
    first = fingerprint(method="POST", path="/v1/x", caller="c", body=body)
    assert fingerprint(method="post", path="/v1/x", caller="c", body=reordered) == first


def test_the_fingerprint_changes_with_method_path_caller_or_body() -> None:
    base = {"method": "POST", "path": "/v1/referrals", "caller": "partner:a", "body": {"a": 1}}
    first = fingerprint(**base)  # type: ignore[arg-type]
    for change in (
        {"method": "PUT"},
        {"path": "/v1/other"},
        {"caller": "partner:b"},
        {"body": {"a": 2}},
        {"body": {"a": 1, "b": None}},
    ):
        assert fingerprint(**(base | change)) != first  # type: ignore[arg-type]


def test_plain_keys_go_to_the_service_as_they_are_others_as_a_stable_digest() -> None:
    assert request_id_for(None) == ""
    assert request_id_for("3f2c9a4e-0b7d-4e55-9a61-0c4b2d7e8f10") == (
        "3f2c9a4e-0b7d-4e55-9a61-0c4b2d7e8f10"
    )
    fancy = "order#42/retry!" + "x" * 100
    digest = request_id_for(fancy)
    assert digest == request_id_for(fancy) != request_id_for(fancy + "y")
    assert len(digest) <= 64
    assert set(digest) <= set(string.ascii_letters + string.digits + "._:-")
