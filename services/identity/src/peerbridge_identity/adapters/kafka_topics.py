"""The Kafka topics this service needs, shaped by the deployment's settings."""

from __future__ import annotations

from peerbridge_platform.kafka import AUDIT_TOPIC, TopicSpec, dead_letter_topic
from peerbridge_platform.settings import KafkaSettings

from .integration_events import EVENTS_TOPIC


def topic_specs(settings: KafkaSettings) -> list[TopicSpec]:
    """Our events, the platform audit log, and our events' dead letters."""
    return [
        TopicSpec.from_settings(name, settings)
        for name in (EVENTS_TOPIC, AUDIT_TOPIC, dead_letter_topic(EVENTS_TOPIC))
    ]
