from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from peerbridge_platform.outbox import shard_for
from peerbridge_platform.outbox.batching import Outcome, rows_to_mark_sent


def test_all_delivered_are_marked() -> None:
    outcomes = [Outcome(i, b"k%d" % (i % 2), None) for i in range(1, 6)]
    assert rows_to_mark_sent(outcomes) == [1, 2, 3, 4, 5]


def test_a_failure_holds_back_later_rows_of_the_same_key_only() -> None:
    boom = RuntimeError("timed out")
    outcomes = [
        Outcome(1, b"a", None),
        Outcome(2, b"b", boom),
        Outcome(3, b"a", None),
        Outcome(4, b"b", None),  # delivered, but after a failed b: retry both in order
    ]
    assert rows_to_mark_sent(outcomes) == [1, 3]


@given(st.lists(st.tuples(st.sampled_from([b"a", b"b", b"c"]), st.booleans()), max_size=50))
def test_marked_rows_of_a_key_are_a_prefix_of_that_key(rows: list[tuple[bytes, bool]]) -> None:
    outcomes = [
        Outcome(i, key, None if ok else RuntimeError("x")) for i, (key, ok) in enumerate(rows)
    ]
    marked = set(rows_to_mark_sent(outcomes))
    for key in {k for k, _ in rows}:
        ids = [o.row_id for o in outcomes if o.key == key]
        flags = [i in marked for i in ids]
        # once a row of a key is not marked, no later row of that key is
        assert flags == sorted(flags, reverse=True)


def test_shards_are_stable_and_in_range() -> None:
    assert shard_for(b"referral-1") == shard_for(b"referral-1")
    assert {shard_for(f"k{i}".encode()) for i in range(1000)} == set(range(16))
