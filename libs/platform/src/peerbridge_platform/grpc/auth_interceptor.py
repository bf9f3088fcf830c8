"""Authentication for every gRPC call: a verified bearer token, or UNAUTHENTICATED.

The caller's access token travels in `authorization: Bearer ...` metadata
and each service checks it itself; it never trusts the gateway (or a user
id in a request body) for who the caller is. The verified Principal is
current for the handler (`peerbridge_platform.auth.current_principal()`).
Health and reflection stay open, so probes and tooling need no token.

Put it after `default_server_interceptors()` (see `authenticated_server_interceptors`):
then the call already has its request id, and the access log shows the
UNAUTHENTICATED status of refused calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import grpc
import structlog

from .. import errors
from ..auth.context import principal_context
from ..auth.tokens import BearerVerifier
from . import metadata
from .handlers import wrap_handler
from .server_interceptors import default_server_interceptors

# Services that must answer without credentials: probes and API discovery.
EXEMPT_SERVICES = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)


class AuthenticationInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(
        self, verifier: BearerVerifier, *, exempt_services: Iterable[str] = EXEMPT_SERVICES
    ) -> None:
        self._verifier = verifier
        self._exempt_prefixes = tuple(f"/{name}/" for name in exempt_services)

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Any]],
        handler_call_details: Any,
    ) -> Any:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(self._exempt_prefixes):
            return handler
        return wrap_handler(handler, self._authenticated)

    @asynccontextmanager
    async def _authenticated(self, context: Any) -> AsyncIterator[None]:
        incoming = metadata.read_incoming(context.invocation_metadata())
        token = incoming.caller.bearer_token if incoming.caller is not None else None
        if token is None:
            await _refuse(context, "missing bearer token")
        try:
            principal = await self._verifier.verify(token)
        except errors.Unauthenticated as error:
            # The message is written to be safe to show: it never quotes the token.
            await _refuse(context, error.message)
        with (
            principal_context(principal, peer=context.peer()),
            structlog.contextvars.bound_contextvars(
                principal=principal.subject, client_id=principal.client_id
            ),
        ):
            yield


async def _refuse(context: Any, message: str) -> NoReturn:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
    raise AssertionError("context.abort() always raises")


def authenticated_server_interceptors(
    verifier: BearerVerifier,
) -> list[grpc.aio.ServerInterceptor]:
    """The default interceptors plus authentication, in the right order."""
    return [*default_server_interceptors(), AuthenticationInterceptor(verifier)]
