"""Server interceptors: call context, access log and error mapping.

Order matters and `default_server_interceptors()` gets it right: the call
context is outermost (so every log line of the call has its ids), the access
log sees the final status, and error mapping is innermost, next to the
servicer, turning exceptions into statuses before anything else sees them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, NoReturn

import grpc
import structlog

from .. import errors, tracing
from ..logging import get_logger
from ..metrics import observe_grpc_call
from . import metadata
from .handlers import wrap_handler
from .rich_status import status_details_metadata
from .status import status_code_for

_log = get_logger("peerbridge_platform.grpc.server")

# Codes that mean the server (not the caller) is at fault: logged as warnings.
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.UNAVAILABLE,
    }
)
_HEALTH_PREFIX = "/grpc.health.v1.Health/"


class _AroundCallInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Runs `around(method, context)` around every call of every method."""

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Any]],
        handler_call_details: Any,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        return wrap_handler(handler, lambda context: self.around(method, context))

    def around(self, method: str, context: Any) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError


class CallContextInterceptor(_AroundCallInterceptor):
    """Continues the caller's trace and makes request id and caller current for the call."""

    @asynccontextmanager
    async def around(self, method: str, context: Any) -> AsyncIterator[None]:
        incoming = metadata.read_incoming(context.invocation_metadata())
        # Every call gets a request id, so every log line can be correlated.
        request_id = incoming.request_id or metadata.new_request_id()
        with (
            tracing.span_from(incoming.trace_carrier, method.lstrip("/")),
            metadata.call_context(request_id=request_id, caller=incoming.caller),
            structlog.contextvars.bound_contextvars(
                request_id=request_id, trace_id=tracing.current_trace_id()
            ),
        ):
            yield


class AccessLogInterceptor(_AroundCallInterceptor):
    """One structured line per call: method, status code, duration, request and trace ids."""

    @asynccontextmanager
    async def around(self, method: str, context: Any) -> AsyncIterator[None]:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            yield
            code = _code_of(context) or grpc.StatusCode.OK
        except asyncio.CancelledError:
            code = _cancelled_code(context)
            raise
        except BaseException:
            code = _code_of(context) or grpc.StatusCode.UNKNOWN
            raise
        finally:
            elapsed = time.perf_counter() - started
            observe_grpc_call(method, code.name, elapsed)
            _log_method(method, code)(
                "grpc call",
                method=method,
                code=code.name,
                duration_ms=round(elapsed * 1000, 3),
                request_id=metadata.current_request_id(),
                trace_id=tracing.current_trace_id(),
            )


class ErrorMappingInterceptor(_AroundCallInterceptor):
    """Domain errors become canonical codes; anything else becomes a bare INTERNAL."""

    @asynccontextmanager
    async def around(self, method: str, context: Any) -> AsyncIterator[None]:
        try:
            yield
        except grpc.aio.AbortError:
            raise  # the servicer chose its status itself
        except errors.DomainError as error:
            code = status_code_for(error)
            if code is None:
                await _abort_internal(method, context)
            trailing: tuple[tuple[str, str | bytes], ...] = status_details_metadata(
                code.value[0], error.message, error.violations
            )
            if isinstance(error, errors.ResourceExhausted):
                # The gateway turns this into HTTP Retry-After.
                trailing += ((metadata.RETRY_AFTER, str(error.retry_after_s)),)
            await context.abort(code, error.message, trailing_metadata=trailing)
        except Exception:
            await _abort_internal(method, context)


def _log_method(method: str, code: grpc.StatusCode) -> Any:
    if code in _SERVER_FAULTS:
        return _log.warning
    # Probes check health every few seconds; their successes are not news.
    if method.startswith(_HEALTH_PREFIX) and code is grpc.StatusCode.OK:
        return _log.debug
    return _log.info


def default_server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    return [CallContextInterceptor(), AccessLogInterceptor(), ErrorMappingInterceptor()]


async def _abort_internal(method: str, context: Any) -> NoReturn:
    # The traceback goes to our log, never to the caller; the request id lets
    # support find it.
    _log.exception("unhandled error in grpc handler", method=method)
    request_id = metadata.current_request_id()
    suffix = f" (request id {request_id})" if request_id else ""
    await context.abort(grpc.StatusCode.INTERNAL, "internal error" + suffix)
    raise AssertionError("context.abort() always raises")


def _code_of(context: Any) -> grpc.StatusCode | None:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):
        return next((c for c in grpc.StatusCode if c.value[0] == code), None)
    return None


def _cancelled_code(context: Any) -> grpc.StatusCode:
    remaining = context.time_remaining()
    expired = remaining is not None and remaining <= 0
    return grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
