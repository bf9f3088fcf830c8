"""The readiness loop: health follows the dependencies, each change logged once."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from peerbridge_platform.grpc import GrpcServer
from peerbridge_platform.grpc.readiness import Readiness, keep_health_current, stop_watching


class RecordingServer:
    """Stands in for the gRPC server's health switch; records each flip."""

    address = "127.0.0.1:0"

    def __init__(self) -> None:
        self.flips: list[str] = []

    async def set_serving(self) -> None:
        self.flips.append("SERVING")

    async def set_not_serving(self) -> None:
        self.flips.append("NOT_SERVING")


async def test_problems_name_each_failing_check() -> None:
    async def yes() -> bool:
        return True

    async def no() -> bool:
        return False

    assert await Readiness({"postgresql": yes, "kafka": no}).problems() == ["kafka"]
    assert await Readiness({"postgresql": yes, "kafka": yes}).problems() == []


@pytest.mark.parametrize(
    ("answers", "flips"),
    [
        ([True, True, True], ["SERVING"]),
        ([True, False, False, True], ["SERVING", "NOT_SERVING", "SERVING"]),
        ([False, False], ["NOT_SERVING"]),
    ],
)
async def test_health_flips_only_when_the_answer_changes(
    answers: list[bool], flips: list[str]
) -> None:
    server = RecordingServer()
    left = list(answers)
    done = asyncio.Event()

    async def kafka() -> bool:
        answer = left.pop(0)
        if not left:
            done.set()
        return answer

    loop = asyncio.create_task(
        keep_health_current(Readiness({"kafka": kafka}), cast("GrpcServer", server), 0.0)
    )
    await asyncio.wait_for(done.wait(), timeout=5)
    await asyncio.sleep(0)  # let the last answer be acted on
    await stop_watching(loop)
    assert server.flips == flips


async def test_a_check_that_raises_counts_as_not_ready() -> None:
    server = RecordingServer()
    calls: list[Any] = []

    async def broken() -> bool:
        calls.append(1)
        raise RuntimeError("probe broke")

    loop = asyncio.create_task(
        keep_health_current(Readiness({"kafka": broken}), cast("GrpcServer", server), 0.0)
    )
    while not calls:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    await stop_watching(loop)
    assert server.flips == ["NOT_SERVING"]
