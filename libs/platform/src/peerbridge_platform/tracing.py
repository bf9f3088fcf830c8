"""W3C trace context, carried in gRPC metadata and Kafka headers.

OpenTelemetry's propagator parses and writes `traceparent`; spans come from
the globally configured tracer provider (a no-op one unless a process sets
an SDK provider), so ids exist even when nothing is exported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
TRACEPARENT = "traceparent"


def install_tracer_provider() -> None:
    """Give the process a real provider so spans get real ids (idempotent)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def inject(carrier: MutableMapping[str, str]) -> None:
    _PROPAGATOR.inject(carrier)


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


@contextmanager
def span_from(carrier: Mapping[str, str], name: str) -> Iterator[trace.Span]:
    """Start a span that continues the trace named in `carrier` (or a new trace)."""
    parent = _PROPAGATOR.extract(dict(carrier))
    token = otel_context.attach(parent)
    try:
        with trace.get_tracer("peerbridge").start_as_current_span(name) as span:
            yield span
    finally:
        otel_context.detach(token)
