"""Prometheus metrics: what operators graph and alert on.

Each process serves them on a listener of its own (`PEERBRIDGE_METRICS_LISTEN`),
never on the public API. Names follow the Prometheus conventions and, for gRPC,
those of go-grpc-prometheus, so the usual dashboards work. Labels are methods,
routes and codes only: never ids, people or content.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Histogram, start_http_server

from .logging import get_logger

log = get_logger(__name__)

# From 1 ms to 10 s: a call slower than that is an outage, not a latency.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time the server took to answer an RPC.",
    ["grpc_service", "grpc_method"],
    buckets=_LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "http_server_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "http_server_request_duration_seconds",
    "Time taken to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
OUTBOX_PUBLISHED = Counter(
    "peerbridge_outbox_published_total",
    "Outbox rows the relay published to Kafka and marked sent.",
    ["relay"],
)
OUTBOX_FALLBACKS = Counter(
    "peerbridge_outbox_fallbacks_total",
    "Guarded outbox rows sent as their fallback because their guard no longer held "
    "(for referrals: a consent revoked or expired before the send).",
    ["relay"],
)
OUTBOX_RELAY_FAILURES = Counter(
    "peerbridge_outbox_relay_failures_total",
    "Relay steps that failed (PostgreSQL or Kafka unreachable) and were retried.",
    ["relay"],
)


def observe_grpc_call(method: str, code: str, seconds: float) -> None:
    """Count one finished call; `method` is the full gRPC path /package.Service/Method."""
    service, _, name = method.lstrip("/").rpartition("/")
    GRPC_HANDLED.labels(service, name, code).inc()
    GRPC_HANDLING_SECONDS.labels(service, name).observe(seconds)


def observe_http_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request; `route` is the declared template, never the path."""
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_REQUEST_SECONDS.labels(method, route).observe(seconds)


@dataclass
class MetricsServer:
    """The running /metrics listener; `stop()` closes it."""

    address: str
    _server: WSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(listen: str) -> MetricsServer:
    """Serve the process's metrics on `listen` (host:port) from a daemon thread."""
    host, _, port = listen.rpartition(":")
    server, thread = start_http_server(int(port), addr=host)
    address = f"{host}:{server.server_port}"
    log.info("metrics served", address=address, path="/metrics")
    return MetricsServer(address, server, thread)


def serve_metrics(listen: str | None, cleanup: contextlib.AsyncExitStack) -> MetricsServer | None:
    """Start the endpoint when `listen` is configured; it stops when `cleanup` unwinds."""
    if listen is None:
        return None
    server = start_metrics_server(listen)
    cleanup.callback(server.stop)
    return server
