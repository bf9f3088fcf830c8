"""The body limit refuses oversized bodies before the app sees them, streamed or declared."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from peerbridge_gateway.middleware import BodySizeLimitMiddleware
from peerbridge_gateway.problems import ProblemRenderer

LIMIT = 100


class EchoApp:
    """Reads the whole body and answers with its length."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def run(
    chunks: list[bytes], content_length: int | None
) -> tuple[EchoApp, list[Message], list[Message]]:
    """Serve one request; return the app, what was sent, and what was left unread."""
    app = EchoApp()
    middleware = BodySizeLimitMiddleware(
        app, max_bytes=LIMIT, renderer=ProblemRenderer("https://problems.test/")
    )
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/v1/x", "headers": headers}
    pending: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    read = 0

    async def receive() -> Message:
        nonlocal read
        read += 1
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    return app, sent, pending


async def test_a_streamed_body_past_the_limit_is_refused_without_reaching_the_app() -> None:
    app, sent, unread = await run([b"x" * 60, b"x" * 60, b"x" * 60], content_length=None)
    assert app.calls == 0
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["type"] == "https://problems.test/content-too-large"
    # The rest was read and dropped, so the client gets the answer, not a reset.
    assert unread == []
    assert (b"connection", b"close") not in sent[0]["headers"]


async def test_a_declared_length_past_the_limit_is_refused_before_the_app() -> None:
    app, sent, _ = await run([b"x" * 101], content_length=LIMIT + 1)
    assert app.calls == 0
    assert sent[0]["status"] == 413


async def test_a_huge_declared_length_is_refused_unread_and_closes() -> None:
    app, sent, unread = await run([b"x" * 10], content_length=50 * 1024 * 1024)
    assert app.calls == 0
    assert sent[0]["status"] == 413
    assert unread
    assert (b"connection", b"close") in sent[0]["headers"]


async def test_a_body_at_the_limit_reaches_the_app_whole() -> None:
    app, sent, _ = await run([b"x" * 50, b"x" * 50], content_length=None)
    assert app.calls == 1
    assert sent[1]["body"] == b"100"
