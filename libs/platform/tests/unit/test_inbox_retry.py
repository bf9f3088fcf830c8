from __future__ import annotations

import asyncpg
import pytest

from peerbridge_platform.inbox.retry import RetryPolicy, counts_against_message, is_transient


def test_delays_grow_geometrically_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, initial_delay_s=0.1, multiplier=2.0, max_delay_s=1.0)
    delays = [policy.delay_after(attempt) for attempt in range(1, 8)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])


def test_a_long_outage_does_not_overflow_the_delay() -> None:
    policy = RetryPolicy(initial_delay_s=0.2, multiplier=10.0, max_delay_s=5.0)
    assert policy.delay_after(10_000) == 5.0


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up_after(a) for a in (1, 2, 3, 4)] == [False, False, True, True]


def test_a_single_attempt_policy_gives_up_at_once() -> None:
    assert RetryPolicy(max_attempts=1).gives_up_after(1)


def test_default_is_five_attempts() -> None:
    assert RetryPolicy().max_attempts == 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_delay_s": -1.0},
        {"initial_delay_s": 2.0, "max_delay_s": 1.0},
        {"multiplier": 0.5},
    ],
)
def test_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        RetryPolicy().delay_after(0)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.ConnectionDoesNotExistError("gone"),
        asyncpg.SerializationError("conflict"),
        asyncpg.DeadlockDetectedError("deadlock"),
        asyncpg.TooManyConnectionsError("full"),
        asyncpg.AdminShutdownError("bye"),
    ],
)
def test_environment_failures_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad payload"),
        KeyError("missing"),
        asyncpg.UniqueViolationError("dup"),
        asyncpg.DataError("cannot encode"),
        asyncpg.QueryCanceledError("statement timeout"),
    ],
)
def test_message_failures_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


def test_only_failures_from_the_handler_on_count_against_the_message() -> None:
    bug = ValueError("bad payload")
    outage = asyncpg.ConnectionDoesNotExistError("gone")
    assert counts_against_message(bug, reached_handler=True)
    assert not counts_against_message(outage, reached_handler=True)
    # Before the handler (no connection, no inbox table) nothing counts.
    assert not counts_against_message(bug, reached_handler=False)
    assert not counts_against_message(asyncpg.UndefinedTableError("inbox"), reached_handler=False)
