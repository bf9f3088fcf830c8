"""Kafka failures a caller can act on, each saying what went wrong and where."""

from __future__ import annotations

from confluent_kafka import KafkaError


class DeliveryFailed(Exception):
    """The broker did not confirm a record: it may or may not have been written.

    At-least-once callers (the outbox relay) retry; a resend is harmless
    because consumers deduplicate by event id.
    """

    def __init__(self, topic: str, error: KafkaError | None, reason: str | None = None) -> None:
        self.topic = topic
        self.error = error
        detail = reason or (f"{error.name()}: {error.str()}" if error is not None else "unknown")
        super().__init__(f"delivery to {topic} failed: {detail}")

    @property
    def retriable(self) -> bool:
        """Worth sending again later (a timeout, a broker away), not a bad record."""
        return self.error is None or self.error.retriable() or self.error.code() in _TRANSIENT

    @property
    def fatal(self) -> bool:
        """The producer itself is unusable; only a new one can send again."""
        return self.error is not None and self.error.fatal()


# Reported as not retriable by librdkafka, yet gone once the broker is back.
_TRANSIENT = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
    }
)


class KafkaUnavailable(ConnectionError):
    """The broker cannot be reached, or is not ready to serve yet."""


class TopicError(RuntimeError):
    """A topic could not be created as configured."""


def unreachable(bootstrap: str, timeout: float, cause: str) -> KafkaUnavailable:
    return KafkaUnavailable(
        f"Kafka at {bootstrap} did not answer within {timeout:g}s ({cause}). "
        "Start the broker (`make run` starts one) or set PEERBRIDGE_KAFKA_BOOTSTRAP "
        "to the address of a running broker."
    )
