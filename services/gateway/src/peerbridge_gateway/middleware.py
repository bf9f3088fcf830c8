"""Pure ASGI middleware: request context and access log, and the request body limit."""

from __future__ import annotations

import asyncio
import re
import time

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from peerbridge_platform import tracing
from peerbridge_platform.grpc import call_context, new_request_id
from peerbridge_platform.logging import get_logger
from peerbridge_platform.metrics import observe_http_request

from .problems import (
    REQUEST_ID_HEADER,
    REQUEST_ID_SCOPE_KEY,
    ProblemException,
    ProblemRenderer,
)
from .refusal_audit import VALIDATE, Refusal
from .routing import AUTHENTICATED_SCOPE_KEY, route_path, route_template

# A client's request id is reused only when it is short and plain (it reaches every log line).
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

log = get_logger("peerbridge_gateway.access")


# Refused as bad input (malformed, too large, wrong type, invalid): audited, since they
# include attempts like mass assignment. 401/403 are audited where they are decided,
# and the services audit what they refuse; the token endpoint's errors are identity's.
_BAD_INPUT = frozenset({400, 413, 415, 422})
_AUDITED_PREFIX = "/v1/"
_NOT_AUDITED_PREFIX = "/v1/auth/"


async def _audit_bad_input(scope: Scope, status: int) -> None:
    if scope["path"].startswith(_NOT_AUDITED_PREFIX):
        return
    resources = getattr(scope["app"].state, "resources", None)
    audit = getattr(resources, "refusals", None)
    if audit is None:
        return
    authenticated = scope.get(AUTHENTICATED_SCOPE_KEY)
    client = scope.get("client")
    await audit.refused(
        Refusal(
            VALIDATE,
            f"bad input ({status})",
            route_template(scope),
            client[0] if client else None,
            getattr(authenticated, "principal", None),
        )
    )


class RequestContextMiddleware:
    """Gives each request an id (the client's X-Request-ID if plain, else a new one), makes it
    current for logs and outgoing gRPC metadata, echoes it, and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = given if given and _CLIENT_REQUEST_ID.fullmatch(given) else new_request_id()
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with (
            call_context(request_id=request_id, caller=None),
            structlog.contextvars.bound_contextvars(request_id=request_id),
        ):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                observe_http_request(scope["method"], route_path(scope), status, elapsed)
                log.info(
                    "http request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 3),
                    trace_id=tracing.current_trace_id(),
                )
                if status in _BAD_INPUT and scope["path"].startswith(_AUDITED_PREFIX):
                    await _audit_bad_input(scope, status)


class BodySizeLimitMiddleware:
    """Refuses bodies above `max_bytes` with 413 before anything parses them.

    A declared Content-Length above the limit is refused before the app runs;
    a body without one (chunked) is refused as soon as it passes the limit. A
    body within the limit is handed on whole. Before answering 413 the rest of
    the body is read and dropped (up to a bound), because a client usually
    sends its whole body before it reads: closing on it would reset the
    connection and lose the answer.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, renderer: ProblemRenderer) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.renderer = renderer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            drained = int(declared) <= _DRAIN_MAX_BYTES and await _drain(receive)
            await self._refuse(scope, receive, send, drained=drained)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                drained = not message.get("more_body", False) or await _drain(receive)
                await self._refuse(scope, receive, send, drained=drained)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, *, drained: bool) -> None:
        problem = ProblemException(
            status=413,
            title="Content too large",
            slug="content-too-large",
            detail=f"The request body must be at most {self.max_bytes} bytes.",
            # With part of the body unread, the connection cannot carry another request.
            headers={} if drained else {"Connection": "close"},
        )
        await self.renderer.render(problem, scope)(scope, receive, send)


# How much of a refused body is read and dropped, and for how long, before answering.
_DRAIN_MAX_BYTES = 1024 * 1024
_DRAIN_TIME_S = 5.0


async def _drain(receive: Receive) -> bool:
    """Read and drop the rest of the body; True when it ended within the bounds."""
    dropped = 0
    try:
        async with asyncio.timeout(_DRAIN_TIME_S):
            while dropped <= _DRAIN_MAX_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return False
                dropped += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return True
    except TimeoutError:
        return False
    return False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
