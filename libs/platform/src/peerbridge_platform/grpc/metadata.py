"""Who is calling and which request this is: read from and written to gRPC metadata.

The server side stores them in contextvars for the duration of a call; the
client side copies them into outgoing metadata, so one request id, one trace
and one caller identity follow a request across services. The transport only
carries the identity: each service verifies it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from .. import tracing

TRACEPARENT = tracing.TRACEPARENT
REQUEST_ID = "x-request-id"
CALLER = "x-peerbridge-caller"
AUTHORIZATION = "authorization"
# Trailing metadata of RESOURCE_EXHAUSTED: whole seconds to wait before trying again.
RETRY_AFTER = "retry-after"

# Request ids end up in every log line: accept only short, plain values.
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

MetadataPairs = Iterable[tuple[str, str | bytes]]


@dataclass(frozen=True)
class Caller:
    """The caller as asserted in metadata: a principal name and/or a bearer token."""

    principal: str | None = None
    # A credential: kept out of repr so it never reaches a log line.
    bearer_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class IncomingCall:
    """What a server learns from a call's invocation metadata."""

    request_id: str | None
    caller: Caller | None
    trace_carrier: dict[str, str]


_request_id: ContextVar[str | None] = ContextVar("peerbridge_request_id", default=None)
_caller: ContextVar[Caller | None] = ContextVar("peerbridge_caller", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def current_caller() -> Caller | None:
    return _caller.get()


def new_request_id() -> str:
    return str(uuid.uuid4())


@contextmanager
def call_context(*, request_id: str | None, caller: Caller | None) -> Iterator[None]:
    """Make `request_id` and `caller` current for the block (server calls, gateway requests)."""
    request_token = _request_id.set(request_id)
    caller_token = _caller.set(caller)
    try:
        yield
    finally:
        _caller.reset(caller_token)
        _request_id.reset(request_token)


def read_incoming(metadata: MetadataPairs | None) -> IncomingCall:
    text = _text_values(metadata or ())
    request_id = text.get(REQUEST_ID)
    if request_id is not None and not _REQUEST_ID_PATTERN.fullmatch(request_id):
        request_id = None
    principal = text.get(CALLER) or None
    token = _bearer_token(text.get(AUTHORIZATION))
    caller = Caller(principal, token) if principal or token else None
    carrier = {TRACEPARENT: text[TRACEPARENT]} if TRACEPARENT in text else {}
    return IncomingCall(request_id=request_id, caller=caller, trace_carrier=carrier)


def outgoing_metadata() -> list[tuple[str, str]]:
    """Trace context, request id and caller of the current context, as metadata pairs."""
    carrier: dict[str, str] = {}
    tracing.inject(carrier)
    pairs = sorted(carrier.items())
    request_id = current_request_id()
    if request_id:
        pairs.append((REQUEST_ID, request_id))
    caller = current_caller()
    if caller is not None and caller.principal:
        pairs.append((CALLER, caller.principal))
    if caller is not None and caller.bearer_token:
        pairs.append((AUTHORIZATION, f"Bearer {caller.bearer_token}"))
    return pairs


def _text_values(metadata: MetadataPairs) -> dict[str, str]:
    # Keys arrive lower-cased; binary (-bin) values are not ours to read here.
    return {key.lower(): value for key, value in metadata if isinstance(value, str)}


def _bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
