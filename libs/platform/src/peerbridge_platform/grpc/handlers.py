"""Wrap a grpc.aio method handler so code runs around every call of it.

A grpc.aio server interceptor sees the call details, not the call: to act
during the call it must return a new handler whose behaviour wraps the old
one. This module does that once, for all four call shapes, so interceptors
only describe what happens around a call (an async context manager).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc

# What runs around one call; it receives the call's servicer context.
Around = Callable[[Any], AbstractAsyncContextManager[None]]


def wrap_handler(handler: Any, around: Around) -> Any:
    """A copy of `handler` (a grpc.RpcMethodHandler) whose behaviour runs inside `around`."""
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(
            _streaming(handler.stream_stream, around),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(
            _unary(handler.stream_unary, around),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(handler.unary_stream, around),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return grpc.unary_unary_rpc_method_handler(
        _unary(handler.unary_unary, around),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _unary(behavior: Callable[[Any, Any], Any], around: Around) -> Callable[[Any, Any], Any]:
    async def wrapped(request: Any, context: Any) -> Any:
        async with around(context):
            result = behavior(request, context)
            return await result if inspect.isawaitable(result) else result

    return wrapped


def _streaming(
    behavior: Callable[[Any, Any], Any], around: Around
) -> Callable[[Any, Any], AsyncIterator[Any]]:
    async def wrapped(request: Any, context: Any) -> AsyncIterator[Any]:
        async with around(context):
            result = behavior(request, context)
            # A streaming handler yields responses (async or not), or writes
            # them with context.write() and returns a coroutine.
            if hasattr(result, "__aiter__"):
                async for response in result:
                    yield response
            elif inspect.isawaitable(result):
                await result
            elif result is not None:
                for response in result:
                    yield response

    return wrapped
