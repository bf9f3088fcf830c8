"""Kafka for PeerBridge: an asyncio producer with delivery guarantees, topics at start-up."""

from .errors import DeliveryFailed, KafkaUnavailable, TopicError
from .producer import AsyncProducer, DeliveryReport
from .topics import (
    AUDIT_TOPIC,
    REFERRALS_FHIR_TOPIC,
    KafkaProbe,
    TopicSpec,
    TopicsReport,
    dead_letter_topic,
    ensure_topics,
    events_topic,
    wait_for_kafka,
)

__all__ = [
    "AUDIT_TOPIC",
    "REFERRALS_FHIR_TOPIC",
    "AsyncProducer",
    "DeliveryFailed",
    "DeliveryReport",
    "KafkaProbe",
    "KafkaUnavailable",
    "TopicError",
    "TopicSpec",
    "TopicsReport",
    "dead_letter_topic",
    "ensure_topics",
    "events_topic",
    "wait_for_kafka",
]
