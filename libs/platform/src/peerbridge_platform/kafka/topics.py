"""Topic names, and making the broker ready for them at start-up.

Topics are created from configuration, never by auto-creation. An existing
topic is left as it is: adding partitions re-maps keys to partitions and
breaks per-key order for records in flight, so that is an operator's call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from ..logging import get_logger
from ..settings import KafkaSettings
from .config import LIBRDKAFKA_LOGGER, admin_config
from .errors import TopicError, unreachable

if TYPE_CHECKING:
    from confluent_kafka.admin._metadata import ClusterMetadata

log = get_logger(__name__)

REFERRALS_FHIR_TOPIC = "peerbridge.referrals.fhir.v1"
AUDIT_TOPIC = "peerbridge.audit.v1"
DEAD_LETTER_SUFFIX = ".dlt"
# Describing a group that does not exist still needs a loaded group coordinator.
READINESS_PROBE_GROUP = "peerbridge.readiness-probe"

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9-]*")
# Failures that say the broker went away, not that the request was wrong.
_UNREACHABLE = frozenset({KafkaError._TRANSPORT, KafkaError._TIMED_OUT})


def events_topic(service: str) -> str:
    """The integration-event topic a service publishes to from its outbox."""
    if not _SERVICE_NAME.fullmatch(service):
        raise ValueError(f"service name {service!r} must be lower-case letters, digits or '-'")
    return f"peerbridge.{service}.events.v1"


def dead_letter_topic(topic: str) -> str:
    """Where a consumer of `topic` puts the records it gave up on."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    replication_factor: int = 1
    config: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _TOPIC_NAME.fullmatch(self.name) or self.name in (".", ".."):
            raise ValueError(f"{self.name!r} is not a valid Kafka topic name")
        if self.partitions < 1:
            raise ValueError(f"topic {self.name}: partitions must be at least 1")
        if self.replication_factor < 1:
            raise ValueError(f"topic {self.name}: replication factor must be at least 1")
        object.__setattr__(self, "config", {k: str(v) for k, v in self.config.items()})

    @classmethod
    def from_settings(
        cls, name: str, settings: KafkaSettings, config: Mapping[str, str] | None = None
    ) -> TopicSpec:
        """A topic shaped by the deployment's settings (partitions, replicas, retention)."""
        return cls(
            name=name,
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            config={"retention.ms": str(settings.topic_retention_ms), **(config or {})},
        )


@dataclass(frozen=True)
class TopicsReport:
    created: tuple[str, ...]
    existing: tuple[str, ...]
    # Topics with fewer partitions than configured: name -> (actual, configured).
    under_partitioned: Mapping[str, tuple[int, int]]


async def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec], timeout_s: float = 30.0
) -> TopicsReport:
    """Create the missing topics; leave existing ones alone but report a partition shortfall.

    Safe to run from every instance at once: a topic another instance just
    created counts as existing.
    """
    wanted = _unique(specs)
    report = await asyncio.to_thread(_ensure, bootstrap, wanted, timeout_s)
    if report.created:
        log.info("kafka topics created", topics=list(report.created), bootstrap=bootstrap)
    for name, (actual, configured) in report.under_partitioned.items():
        log.warning(
            "kafka topic has fewer partitions than configured; left unchanged",
            topic=name,
            partitions=actual,
            configured=configured,
            hint="adding partitions re-maps keys and so breaks per-key order: "
            "raise it deliberately (kafka-topics.sh --alter) if it is wanted",
        )
    return report


async def wait_for_kafka(bootstrap: str, timeout_s: float = 60.0, interval_s: float = 0.5) -> None:
    """Return once the broker answers metadata requests and its group coordinator is loaded.

    A broker that has just started accepts connections before consumer groups
    and idempotent producers can work; this waits for both.
    """
    admin = AdminClient(admin_config(bootstrap, quiet=True))
    deadline = time.monotonic() + timeout_s
    reason = "no answer yet"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise unreachable(bootstrap, timeout_s, reason)
        ready, reason = await asyncio.to_thread(_probe, admin, min(remaining, 5.0))
        if ready:
            return
        log.debug("kafka not ready yet", bootstrap=bootstrap, reason=reason)
        await asyncio.sleep(min(interval_s, max(0.0, deadline - time.monotonic())))


class KafkaProbe:
    """Answers "is Kafka ready?" again and again on one admin client: a readiness loop that
    built a client per check paid a new connection and a librdkafka thread every time."""

    def __init__(self, bootstrap: str) -> None:
        self._admin = AdminClient(admin_config(bootstrap, quiet=True))

    async def ready(self, timeout_s: float) -> bool:
        """True when the broker answers metadata and its group coordinator is loaded."""
        ready, _ = await asyncio.to_thread(_probe, self._admin, timeout_s)
        return ready


def _unique(specs: Iterable[TopicSpec]) -> list[TopicSpec]:
    by_name: dict[str, TopicSpec] = {}
    for spec in specs:
        if by_name.setdefault(spec.name, spec) != spec:
            raise ValueError(f"topic {spec.name} is configured twice, differently")
    return list(by_name.values())


def _ensure(bootstrap: str, specs: list[TopicSpec], timeout: float) -> TopicsReport:
    deadline = time.monotonic() + timeout
    admin = AdminClient(admin_config(bootstrap), logger=logging.getLogger(LIBRDKAFKA_LOGGER))
    try:
        known = _partition_counts(admin.list_topics(timeout=timeout))
    except KafkaException as exc:
        raise unreachable(bootstrap, timeout, _describe(exc)) from exc
    missing = [spec for spec in specs if spec.name not in known]
    created = _create(admin, bootstrap, missing, deadline) if missing else []
    # Metadata lags creation a little (ours, or another instance's that raced us):
    # wait until every topic is there, so producers and the report see it.
    counts = _visible(admin, bootstrap, [spec.name for spec in specs], deadline)
    existing = [spec for spec in specs if spec.name not in created]
    return TopicsReport(
        created=tuple(created),
        existing=tuple(spec.name for spec in existing),
        under_partitioned={
            spec.name: (counts[spec.name], spec.partitions)
            for spec in existing
            if counts[spec.name] < spec.partitions
        },
    )


def _partition_counts(metadata: ClusterMetadata) -> dict[str, int]:
    """Topics with every partition led, by name; others are not usable yet."""
    return {
        name: len(topic.partitions)
        for name, topic in metadata.topics.items()
        if topic.error is None
        and topic.partitions
        and all(p.leader >= 0 for p in topic.partitions.values())
    }


def _visible(
    admin: AdminClient, bootstrap: str, names: list[str], deadline: float
) -> dict[str, int]:
    while True:
        try:
            counts = _partition_counts(admin.list_topics(timeout=5))
        except KafkaException as exc:
            raise unreachable(bootstrap, 5, _describe(exc)) from exc
        absent = [name for name in names if name not in counts]
        if not absent:
            return {name: counts[name] for name in names}
        if time.monotonic() > deadline:
            raise TopicError(
                f"topics {', '.join(absent)} on {bootstrap} have no partition leaders yet; "
                "check the broker's log"
            )
        time.sleep(0.1)  # a worker thread, not the event loop


def _create(
    admin: AdminClient, bootstrap: str, specs: list[TopicSpec], deadline: float
) -> list[str]:
    budget = max(1.0, deadline - time.monotonic())
    futures = admin.create_topics(
        [
            NewTopic(s.name, s.partitions, s.replication_factor, config=dict(s.config))
            for s in specs
        ],
        request_timeout=budget,
        operation_timeout=budget,
    )
    created: list[str] = []
    failures: list[str] = []
    unreachable_only = True
    for name, future in futures.items():
        try:
            future.result(timeout=budget + 5)
        except KafkaException as exc:
            error = _error_of(exc)
            code = error.code() if error is not None else None
            if code == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # another instance won the race: fine
            unreachable_only &= code in _UNREACHABLE
            failures.append(f"{name}: {_describe(exc)}")
        except concurrent.futures.TimeoutError:
            failures.append(f"{name}: no answer")
        else:
            created.append(name)
    if failures and unreachable_only:
        raise unreachable(bootstrap, budget, "; ".join(failures))
    if failures:
        raise TopicError(f"could not create topics on {bootstrap}: " + "; ".join(failures))
    return created


def _probe(admin: AdminClient, budget: float) -> tuple[bool, str]:
    try:
        admin.list_topics(timeout=budget)
        futures = admin.describe_consumer_groups([READINESS_PROBE_GROUP], request_timeout=budget)
        futures[READINESS_PROBE_GROUP].result(timeout=budget + 1)
    except KafkaException as exc:
        error = _error_of(exc)
        if error is not None and error.code() == KafkaError.GROUP_ID_NOT_FOUND:
            return True, "ready"  # the coordinator answered: it is loaded
        return False, _describe(exc)
    except concurrent.futures.TimeoutError:
        return False, f"no answer within {budget:g}s"
    return True, "ready"


def _error_of(exc: KafkaException) -> KafkaError | None:
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, KafkaError) else None


def _describe(exc: KafkaException) -> str:
    error = _error_of(exc)
    return str(exc) if error is None else f"{error.name()}: {error.str()}"
