"""The verified caller of the current call, and where the call came from.

Set by the gRPC authentication interceptor (or the gateway) for the duration
of one call; read by authorization checks and by the audit trail. A
contextvar, so concurrent calls on one event loop never see each other's
principal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..errors import Unauthenticated
from .principal import Principal

_principal: ContextVar[Principal | None] = ContextVar("peerbridge_principal", default=None)
_peer: ContextVar[str | None] = ContextVar("peerbridge_peer", default=None)


def current_principal() -> Principal | None:
    return _principal.get()


def require_principal() -> Principal:
    """The verified caller, or Unauthenticated when the call carries none."""
    principal = _principal.get()
    if principal is None:
        raise Unauthenticated("authentication required")
    return principal


def current_peer() -> str | None:
    """The network peer of the current call (gRPC form, e.g. `ipv4:10.0.0.7:51234`)."""
    return _peer.get()


@contextmanager
def principal_context(principal: Principal | None, *, peer: str | None = None) -> Iterator[None]:
    """Make `principal` (and the call's `peer`) current for the block."""
    principal_token = _principal.set(principal)
    peer_token = _peer.set(peer)
    try:
        yield
    finally:
        _peer.reset(peer_token)
        _principal.reset(principal_token)
