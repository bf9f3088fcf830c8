"""The guard runs a request once per key and replays it, over the in-memory store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest

from peerbridge_gateway.idempotency.guard import (
    GuardPolicy,
    IdempotencyGuard,
    KeyReusedError,
    StillInProgressError,
)
from peerbridge_gateway.idempotency.memory_store import InMemoryIdempotencyStore
from peerbridge_gateway.idempotency.store import KeyScope, StoredResponse

SCOPE = KeyScope("partner:test", "key-1")
CREATED = StoredResponse(201, (("location", "/v1/things/1"),), b'{"id":"1"}')


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Action:
    """Counts its runs; answers `response`, or raises `error`; waits for `gate` when set."""

    def __init__(self, response: StoredResponse = CREATED) -> None:
        self.response = response
        self.error: BaseException | None = None
        self.gate: asyncio.Event | None = None
        self.runs = 0

    async def __call__(self) -> StoredResponse:
        self.runs += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.response


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> InMemoryIdempotencyStore:
    return InMemoryIdempotencyStore(clock)


def guard_over(store: InMemoryIdempotencyStore, wait_s: float = 2.0) -> IdempotencyGuard:
    return IdempotencyGuard(store, GuardPolicy(wait_s=wait_s, lease_s=30, retention_s=3600))


async def test_the_first_request_runs_and_a_retry_replays_it(
    store: InMemoryIdempotencyStore,
) -> None:
    guard, action = guard_over(store), Action()
    first = await guard.execute(SCOPE, "fp", action)
    again = await guard.execute(SCOPE, "fp", action)
    assert (first.replayed, again.replayed) == (False, True)
    assert first.response == again.response == CREATED
    assert action.runs == 1


async def test_the_same_key_for_another_request_is_refused(
    store: InMemoryIdempotencyStore,
) -> None:
    guard, action = guard_over(store), Action()
    await guard.execute(SCOPE, "fp", action)
    with pytest.raises(KeyReusedError):
        await guard.execute(SCOPE, "other-fp", action)
    assert action.runs == 1


async def test_keys_of_different_callers_do_not_meet(store: InMemoryIdempotencyStore) -> None:
    guard, action = guard_over(store), Action()
    await guard.execute(KeyScope("partner:a", "k"), "fp-a", action)
    second = await guard.execute(KeyScope("partner:b", "k"), "fp-b", action)
    assert not second.replayed
    assert action.runs == 2


async def test_client_errors_are_recorded_and_replayed(store: InMemoryIdempotencyStore) -> None:
    guard, action = guard_over(store), Action(StoredResponse(400, (), b"{}"))
    await guard.execute(SCOPE, "fp", action)
    replay = await guard.execute(SCOPE, "fp", action)
    assert (replay.replayed, replay.response.status_code, action.runs) == (True, 400, 1)


async def test_a_server_error_releases_the_key_for_a_retry(
    store: InMemoryIdempotencyStore,
) -> None:
    guard = guard_over(store)
    failing = Action(StoredResponse(503, (("retry-after", "1"),), b"{}"))
    assert (await guard.execute(SCOPE, "fp", failing)).response.status_code == 503
    retried = await guard.execute(SCOPE, "fp", Action())
    assert (retried.replayed, retried.response) == (False, CREATED)


async def test_an_exception_releases_the_key_and_propagates(
    store: InMemoryIdempotencyStore,
) -> None:
    guard, action = guard_over(store), Action()
    action.error = RuntimeError("boom")
    with pytest.raises(RuntimeError):
        await guard.execute(SCOPE, "fp", action)
    assert await store.find(SCOPE) is None


async def test_a_cancelled_request_releases_its_key(store: InMemoryIdempotencyStore) -> None:
    guard, action = guard_over(store), Action()
    action.gate = asyncio.Event()
    task = asyncio.create_task(guard.execute(SCOPE, "fp", action))
    await until(lambda: action.runs == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until_async(lambda: store.find(SCOPE), expect=None)


async def test_concurrent_duplicates_run_once_and_all_get_the_response(
    store: InMemoryIdempotencyStore,
) -> None:
    guard, action = guard_over(store), Action()
    action.gate = asyncio.Event()
    tasks = [asyncio.create_task(guard.execute(SCOPE, "fp", action)) for _ in range(20)]
    await until(lambda: action.runs == 1)
    action.gate.set()
    executions = await asyncio.gather(*tasks)
    assert action.runs == 1
    assert sorted(e.replayed for e in executions) == [False] + [True] * 19
    assert {e.response for e in executions} == {CREATED}


async def test_a_duplicate_gives_up_after_the_wait_and_says_when_to_retry(
    store: InMemoryIdempotencyStore,
) -> None:
    guard, action = guard_over(store, wait_s=0.1), Action()
    action.gate = asyncio.Event()
    first = asyncio.create_task(guard.execute(SCOPE, "fp", action))
    await until(lambda: action.runs == 1)
    with pytest.raises(StillInProgressError) as raised:
        await guard.execute(SCOPE, "fp", action)
    assert raised.value.retry_after_s >= 1
    action.gate.set()
    assert not (await first).replayed


async def test_an_abandoned_claim_is_taken_over_after_its_lease(
    store: InMemoryIdempotencyStore, clock: Clock
) -> None:
    assert await store.claim(SCOPE, "fp", uuid.uuid4(), lease_s=30, retention_s=3600)
    guard, action = guard_over(store, wait_s=0.1), Action()
    with pytest.raises(StillInProgressError):
        await guard.execute(SCOPE, "fp", action)
    clock.now += 31
    assert not (await guard.execute(SCOPE, "fp", action)).replayed
    assert action.runs == 1


async def test_expired_keys_start_afresh_and_are_purged(
    store: InMemoryIdempotencyStore, clock: Clock
) -> None:
    guard, action = guard_over(store), Action()
    await guard.execute(SCOPE, "fp", action)
    await guard.execute(KeyScope("partner:test", "key-2"), "fp", action)
    clock.now += 3601
    assert await store.find(SCOPE) is None
    assert await store.purge_expired(batch=1) == 1
    assert await store.purge_expired(batch=10) == 1
    assert not (await guard.execute(SCOPE, "another-body", action)).replayed


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


async def until_async(
    probe: Callable[[], Awaitable[object]], expect: object, timeout_s: float = 5.0
) -> None:
    async with asyncio.timeout(timeout_s):
        while await probe() != expect:
            await asyncio.sleep(0.005)
