from __future__ import annotations

from peerbridge_platform.inbox.dead_letter import (
    MAX_REASON_CHARS,
    DeadLetter,
    dead_letter_headers,
    describe,
)

LETTER = DeadLetter(
    reason="ValueError: bad payload",
    attempts=5,
    topic="peerbridge.referrals.events.v1",
    partition=3,
    offset=42,
    consumer_group="peerbridge.sessions.referrals",
)


def test_keeps_the_original_headers_first_and_in_order() -> None:
    original: list[tuple[str, bytes | None]] = [
        ("ce_id", b"e-1"),
        ("ce_type", b"peerbridge.referrals.v1.ReferralCreated"),
        ("traceparent", b"00-abc-def-01"),
        ("empty", None),
    ]
    headers = dead_letter_headers(original, LETTER)
    assert headers[: len(original)] == original


def test_adds_reason_attempts_origin_and_group() -> None:
    headers = dict(dead_letter_headers([("ce_id", b"e-1")], LETTER))
    assert headers["peerbridge_dlt_reason"] == b"ValueError: bad payload"
    assert headers["peerbridge_dlt_attempts"] == b"5"
    assert headers["peerbridge_dlt_original_topic"] == b"peerbridge.referrals.events.v1"
    assert headers["peerbridge_dlt_original_partition"] == b"3"
    assert headers["peerbridge_dlt_original_offset"] == b"42"
    assert headers["peerbridge_dlt_consumer_group"] == b"peerbridge.sessions.referrals"


def test_a_record_without_headers_still_gets_ours() -> None:
    names = [name for name, _ in dead_letter_headers(None, LETTER)]
    assert names == [
        "peerbridge_dlt_reason",
        "peerbridge_dlt_attempts",
        "peerbridge_dlt_original_topic",
        "peerbridge_dlt_original_partition",
        "peerbridge_dlt_original_offset",
        "peerbridge_dlt_consumer_group",
    ]


def test_a_record_dead_lettered_again_carries_only_the_latest_failure() -> None:
    earlier = dead_letter_headers([("ce_id", b"e-1")], LETTER)
    again = dead_letter_headers(earlier, DeadLetter("KeyError: 'x'", 2, "t.dlt", 0, 7, "g"))
    names = [name for name, _ in again]
    assert names.count("peerbridge_dlt_reason") == 1
    assert dict(again)["peerbridge_dlt_reason"] == b"KeyError: 'x'"
    assert dict(again)["ce_id"] == b"e-1"


def test_describe_names_the_error_on_one_line() -> None:
    assert describe(ValueError("bad\npayload")) == "ValueError: bad payload"
    assert describe(RuntimeError()) == "RuntimeError"


def test_describe_bounds_the_length() -> None:
    text = describe(ValueError("x" * 10_000))
    assert len(text) == MAX_REASON_CHARS
    assert text.endswith("...")
