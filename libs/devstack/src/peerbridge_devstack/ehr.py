"""A clinic EHR's view of PeerBridge: a plain Kafka consumer, nothing of ours but the protos.

This is the shape an EHR integrator writes: subscribe to the referral topics,
read the CloudEvents headers, decode protobuf events by `ce_type`, parse the
FHIR JSON, and filter on the receiving organisation. The demo and the
end-to-end tests use it as is.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer
from google.protobuf.message import Message

from peerbridge.referrals.v1 import referrals_events_pb2

EVENTS_TOPIC = "peerbridge.referrals.events.v1"
FHIR_TOPIC = "peerbridge.referrals.fhir.v1"

# Decode by type name, not by topic or position: new event types can appear.
EVENT_TYPES: dict[str, type[Message]] = {
    message.DESCRIPTOR.full_name: message
    for message in (
        referrals_events_pb2.ReferralCreated,
        referrals_events_pb2.ReferralStatusChanged,
    )
}


@dataclass(frozen=True)
class Received:
    topic: str
    key: str
    headers: dict[str, str]
    body: Message | dict[str, Any] | bytes

    @property
    def ce_type(self) -> str:
        return self.headers.get("ce_type", "")

    @property
    def ce_id(self) -> str:
        return self.headers.get("ce_id", "")


def decode(
    topic: str | None,
    key: str | bytes | None,
    value: bytes | None,
    raw_headers: Sequence[tuple[str, str | bytes | None]],
) -> Received:
    headers = {name: _text(data) for name, data in raw_headers}
    value = value or b""
    content_type = headers.get("content-type", "")
    body: Message | dict[str, Any] | bytes
    if content_type.startswith("application/fhir+json"):
        body = json.loads(value)
    elif content_type == "application/protobuf" and headers.get("ce_type") in EVENT_TYPES:
        body = EVENT_TYPES[headers["ce_type"]].FromString(value)
    else:
        body = value  # an event type this EHR does not know yet: keep, don't fail
    return Received(topic or "", _text(key), headers, body)


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


def _header_list(message: Any) -> list[tuple[str, str | bytes | None]]:
    headers = message.headers() or []
    return list(headers.items()) if isinstance(headers, dict) else list(headers)


class EhrConsumer:
    def __init__(
        self,
        bootstrap: str,
        topics: tuple[str, ...] = (EVENTS_TOPIC, FHIR_TOPIC),
        group: str | None = None,
    ) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group or f"ehr.demo.{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": True,
            }
        )
        self._consumer.subscribe(list(topics))

    def collect(
        self, done: Callable[[list[Received]], bool], timeout_s: float = 30.0
    ) -> list[Received]:
        """Poll until `done(received)` holds or the deadline passes."""
        received: list[Received] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not done(received):
            message = self._consumer.poll(0.25)
            if message is None or message.error() is not None:
                continue
            received.append(
                decode(message.topic(), message.key(), message.value(), _header_list(message))
            )
        return received

    def close(self) -> None:
        self._consumer.close()
