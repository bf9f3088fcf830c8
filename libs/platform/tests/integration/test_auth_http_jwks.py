"""The HTTP JWKS source against a real HTTP server on 127.0.0.1 (the issuer's side)."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from peerbridge_platform.auth import (
    HttpJwksSource,
    JwksUnavailable,
    KeySet,
    Role,
    SigningKey,
    TokenVerifier,
    issue_access_token,
)
from peerbridge_platform.errors import Unauthenticated

pytestmark = pytest.mark.integration

ISSUER = "https://identity.peerbridge.test"
AUDIENCE = "peerbridge"


class Issuer:
    """What the identity service does for JWKS: serve the current key set's public keys."""

    def __init__(self) -> None:
        self.keys = KeySet(SigningKey.generate())
        self.requests = 0
        self.status = 200
        self.body: bytes | None = None  # overrides the JWKS when set
        self.release = threading.Event()
        self.stall = False
        self.release.set()

    def document(self) -> bytes:
        return self.body if self.body is not None else json.dumps(self.keys.to_jwks()).encode()

    def token(self, key: SigningKey | None = None) -> str:
        return issue_access_token(
            key or self.keys.active,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=f"member-{uuid.uuid4().hex[:6]}",
            roles=[Role.MEMBER],
            scopes=["referrals.read"],
            organization_id=None,
        )


@pytest.fixture
def issuer() -> Iterator[tuple[Issuer, str]]:
    state = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/jwks")
                self.end_headers()
                return
            if state.stall:
                state.release.wait(timeout=10)
            body = state.document()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/jwk-set+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def source(base: str, clock: Clock, path: str = "/jwks", **options: Any) -> HttpJwksSource:
    settings: dict[str, Any] = {"min_refresh_interval_s": 30, "max_age_s": 300, "clock": clock}
    return HttpJwksSource(base + path, **(settings | options))


async def test_tokens_verify_against_the_issuers_jwks(issuer: tuple[Issuer, str]) -> None:
    state, base = issuer
    async with source(base, Clock()) as jwks:
        verifier = TokenVerifier(ISSUER, AUDIENCE, jwks)
        principal = await verifier.verify(state.token())
        assert principal.roles == {Role.MEMBER}
        await verifier.verify(state.token())
        assert jwks.fetches == 1  # the second token used the cache


async def test_rotation_is_picked_up_without_a_restart(issuer: tuple[Issuer, str]) -> None:
    state, base = issuer
    clock = Clock()
    async with source(base, clock) as jwks:
        verifier = TokenVerifier(ISSUER, AUDIENCE, jwks)
        old_token = state.token()
        await verifier.verify(old_token)
        state.keys = state.keys.rotate(SigningKey.generate())
        clock.now += 31  # past the refresh interval, well within the cache age
        await verifier.verify(state.token())  # new kid: one refresh finds it
        await verifier.verify(old_token)  # previous key still published
        assert jwks.fetches == 2
        state.keys = state.keys.retire(state.keys.previous[0].kid)
        clock.now += 301  # the cache expires; the retired key is gone on refresh
        with pytest.raises(Unauthenticated, match="unknown key"):
            await verifier.verify(old_token)
        assert jwks.fetches == 3


async def test_a_flood_of_unknown_kids_fetches_once_per_interval(
    issuer: tuple[Issuer, str],
) -> None:
    state, base = issuer
    clock = Clock()
    async with source(base, clock) as jwks:
        await jwks.refresh()
        bogus = [f"bogus-{i}" for i in range(200)]
        assert await asyncio.gather(*(jwks.get_key(kid) for kid in bogus)) == [None] * 200
        assert state.requests == 1  # within the interval of the start-up fetch: none
        clock.now += 31
        assert await asyncio.gather(*(jwks.get_key(kid) for kid in bogus)) == [None] * 200
        assert state.requests == 2  # one refresh for all 200
        clock.now += 10
        assert await jwks.get_key("bogus-again") is None
        assert state.requests == 2
        clock.now += 30
        assert await jwks.get_key("bogus-again") is None
        assert state.requests == 3


async def test_concurrent_first_lookups_share_one_fetch(issuer: tuple[Issuer, str]) -> None:
    state, base = issuer
    async with source(base, Clock()) as jwks:
        kid = state.keys.active.kid
        found = await asyncio.gather(*(jwks.get_key(kid) for _ in range(50)))
        assert all(key is not None and key.kid == kid for key in found)
        assert state.requests == 1


async def test_an_unreachable_issuer_keeps_last_good_keys_for_a_while(
    issuer: tuple[Issuer, str],
) -> None:
    state, base = issuer
    clock = Clock()
    async with source(base, clock, max_stale_s=600) as jwks:
        verifier = TokenVerifier(ISSUER, AUDIENCE, jwks)
        token = state.token()
        await verifier.verify(token)
        state.status = 503
        clock.now += 400  # cache expired; refresh fails; stale keys still serve
        await verifier.verify(token)
        clock.now += 600  # beyond max_age + max_stale: fail closed
        with pytest.raises(Unauthenticated, match="could not be verified"):
            await verifier.verify(token)


async def test_no_keys_until_the_first_fetch_succeeds(issuer: tuple[Issuer, str]) -> None:
    state, base = issuer
    state.status = 500
    async with source(base, Clock()) as jwks:
        with pytest.raises(JwksUnavailable):
            await jwks.get_key(state.keys.active.kid)
        with pytest.raises(JwksUnavailable):  # and no retry storm meanwhile
            await jwks.get_key(state.keys.active.kid)
        assert state.requests == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"x" * 70_000, "/jwks"),
        (b"{not json", "/jwks"),
        (b'{"keys": 7}', "/jwks"),
        (None, "/redirect"),
    ],
    ids=["oversized", "not-json", "not-a-jwks", "redirect"],
)
async def test_bad_responses_are_not_trusted(
    issuer: tuple[Issuer, str], body: bytes | None, path: str
) -> None:
    state, base = issuer
    state.body = body
    async with source(base, Clock(), path=path, max_bytes=64 * 1024) as jwks:
        with pytest.raises(JwksUnavailable):
            await jwks.refresh()


async def test_a_stalled_issuer_times_out(issuer: tuple[Issuer, str]) -> None:
    state, base = issuer
    state.stall = True
    state.release.clear()
    async with source(base, Clock(), timeout_s=0.3) as jwks:
        with pytest.raises(JwksUnavailable):
            await jwks.refresh()
    state.release.set()
