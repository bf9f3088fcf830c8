"""How the gateway reads identity's failures, and the JWKS document cache."""

from __future__ import annotations

import json

import grpc
import pytest

from peerbridge_gateway.clients.grpc_calls import service_error
from peerbridge_gateway.jwks_document import CachedJwks, JwksNotAvailable


def rpc_error(code: grpc.StatusCode, trailing: tuple[tuple[str, str], ...]) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details="too many attempts"
    )


@pytest.mark.parametrize(
    ("trailing", "expected"),
    [
        ((("retry-after", "30"),), 30),
        ((("retry-after", "999999"),), 3600),
        ((("retry-after", "soon"),), None),
        ((), None),
    ],
)
def test_retry_after_comes_from_trailing_metadata(
    trailing: tuple[tuple[str, str], ...], expected: int | None
) -> None:
    error = service_error("identity", rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, trailing))
    assert error.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.retry_after_s == expected


class Identity:
    def __init__(self) -> None:
        self.answers: list[str | Exception] = []
        self.calls = 0

    async def get_jwks(self) -> str:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


JWKS = json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "k1"}]})


async def test_the_jwks_document_is_cached_then_served_stale_for_a_bounded_time() -> None:
    now = [0.0]
    identity = Identity()
    cache = CachedJwks(identity.get_jwks, ttl_s=60, max_stale_s=600, clock=lambda: now[0])
    identity.answers.append(JWKS)
    first = await cache.get()
    assert json.loads(first.body) == json.loads(JWKS)
    now[0] = 59
    assert await cache.get() is first
    assert identity.calls == 1
    now[0] = 61
    identity.answers.append(OSError("identity down"))
    assert (await cache.get()).body == first.body  # stale, within bounds
    assert identity.calls == 2
    now[0] = 65
    assert (await cache.get()).body == first.body  # not asked again so soon
    assert identity.calls == 2
    now[0] = 67
    identity.answers.append(OSError("identity still down"))
    assert (await cache.get()).body == first.body
    assert identity.calls == 3
    now[0] = 700
    identity.answers.append(OSError("identity down"))
    with pytest.raises(JwksNotAvailable):
        await cache.get()


@pytest.mark.parametrize("answer", ["not json", "[]", '{"keys": "x"}'])
async def test_a_document_that_is_not_a_jwks_is_not_served(answer: str) -> None:
    identity = Identity()
    identity.answers.append(answer)
    with pytest.raises(JwksNotAvailable):
        await CachedJwks(identity.get_jwks, ttl_s=60).get()
