"""librdkafka settings shared by every PeerBridge client."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

# librdkafka's own log lines, routed through the standard library (and so structlog).
LIBRDKAFKA_LOGGER = "librdkafka"

# The outbox promises "nothing lost, per-key order kept": these are what keep it.
_GUARANTEES: Mapping[str, object] = {"enable.idempotence": True, "acks": "all"}


def producer_config(
    bootstrap: str, *, client_id: str, delivery_timeout_ms: int, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Idempotent, acks=all, lightly batched and compressed; overrides go last.

    Overrides that would weaken delivery (no idempotence, fewer acks) are refused.
    """
    for name, required in _GUARANTEES.items():
        if name in overrides and _normalise(overrides[name]) != _normalise(required):
            raise ValueError(f"{name}={overrides[name]!r} would weaken delivery guarantees")
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        **_GUARANTEES,
        # Up to 5 in flight keeps order with idempotence (the broker checks sequences).
        "max.in.flight.requests.per.connection": 5,
        "linger.ms": 5,
        # lz4 is built into librdkafka itself, so it is always available.
        "compression.type": "lz4",
        "delivery.timeout.ms": delivery_timeout_ms,
        "logger": logging.getLogger(LIBRDKAFKA_LOGGER),
        **overrides,
    }


def admin_config(bootstrap: str, *, quiet: bool = False) -> dict[str, str | int | float | bool]:
    """For admin clients; `quiet` silences librdkafka while a broker is expected to be away."""
    config: dict[str, str | int | float | bool] = {
        "bootstrap.servers": bootstrap,
        "client.id": "peerbridge-admin",
    }
    if quiet:
        config["log_level"] = 0
    return config


def _normalise(value: object) -> str:
    text = str(value).lower()
    return {"1": "true", "-1": "all"}.get(text, text)
