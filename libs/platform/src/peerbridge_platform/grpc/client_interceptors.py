"""Client interceptors: a deadline on every call, and the call context in its metadata.

grpc.aio files an interceptor under the first call shape it implements, so
there is one small class per shape, all sharing `_prepare`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from .metadata import outgoing_metadata


class _Defaults:
    def __init__(self, default_timeout_s: float) -> None:
        if default_timeout_s <= 0:
            raise ValueError("default_timeout_s must be positive")
        self._default_timeout_s = default_timeout_s

    def _prepare(self, details: Any) -> Any:
        timeout = details.timeout if details.timeout is not None else self._default_timeout_s
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        # What the caller set explicitly wins over the ambient context.
        for key, value in outgoing_metadata():
            if key not in metadata:
                metadata.add(key, value)
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=timeout,
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )


class UnaryUnaryDefaults(_Defaults, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._prepare(client_call_details), request)


class UnaryStreamDefaults(_Defaults, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(
        self, continuation: Callable[[Any, Any], Any], client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._prepare(client_call_details), request)


class StreamUnaryDefaults(_Defaults, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(
        self,
        continuation: Callable[[Any, Any], Any],
        client_call_details: Any,
        request_iterator: Any,
    ) -> Any:
        return await continuation(self._prepare(client_call_details), request_iterator)


class StreamStreamDefaults(_Defaults, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(
        self,
        continuation: Callable[[Any, Any], Any],
        client_call_details: Any,
        request_iterator: Any,
    ) -> Any:
        return await continuation(self._prepare(client_call_details), request_iterator)


def default_client_interceptors(default_timeout_s: float) -> list[Any]:
    return [
        UnaryUnaryDefaults(default_timeout_s),
        UnaryStreamDefaults(default_timeout_s),
        StreamUnaryDefaults(default_timeout_s),
        StreamStreamDefaults(default_timeout_s),
    ]
