"""A clinic EHR's consumer of PeerBridge referrals: the example of ehr-guide.md.

It reads the FHIR topic, keeps the records addressed to one organization (by
the `ce_recipientorganization` header, without parsing the others), validates
each Bundle as FHIR R4 (fhir.resources, R4B models), prints the Task's status
and priority, and commits the offset only after the record was handled.

Needs only `confluent-kafka` and `fhir.resources`:

    python ehr_consumer_example.py --organization <your organization id>

Duplicates are dropped by `ce_id`, and an older version of a referral that
arrives after a newer one is ignored. Both are remembered in memory here; a
real EHR keeps them in its own database, in the transaction that stores the
referral, so a restart does not forget them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message
from fhir.resources.R4B.bundle import Bundle

FHIR_TOPIC = "peerbridge.referrals.fhir.v1"
RECIPIENT_HEADER = "ce_recipientorganization"
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class ReferralUpdate:
    """What the EHR took from one record: the referral's current Task."""

    referral_id: str
    event_id: str
    version: int
    status: str
    priority: str
    security_labels: tuple[str, ...]
    bundle: Any  # the validated fhir.resources Bundle


@dataclass
class ConsumeResult:
    handled: list[ReferralUpdate] = field(default_factory=list)
    skipped_other_organizations: int = 0
    duplicates: int = 0
    invalid: int = 0


def consume(
    bootstrap: str,
    organization_id: str,
    *,
    group_id: str | None = None,
    topic: str = FHIR_TOPIC,
    timeout_s: float | None = None,
    max_records: int | None = None,
    stop_when: Callable[[ReferralUpdate], bool] | None = None,
    stop_at_end: bool = False,
    on_update: Callable[[ReferralUpdate], None] | None = None,
) -> ConsumeResult:
    """Consume until the deadline, `max_records` handled, `stop_when` holds for an update,
    or (with `stop_at_end`) every partition has been read to its end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # A stable group per EHR deployment, so a restart resumes where it stopped.
            "group.id": group_id or f"ehr.{organization_id}.referrals",
            "auto.offset.reset": "earliest",
            # Offsets are committed by hand, after each record is handled.
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    result = ConsumeResult()
    latest: dict[str, int] = {}
    seen_ids: set[str] = set()
    at_end: set[tuple[str, int]] = set()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while deadline is None or time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    at_end.add((message.topic() or "", message.partition() or 0))
                    if stop_at_end and _read_to_end(consumer, at_end):
                        break
                else:
                    print(f"kafka: {error}", file=sys.stderr)
                continue
            at_end.discard((message.topic() or "", message.partition() or 0))
            update = handle(message, organization_id, result, latest, seen_ids)
            consumer.commit(message=message, asynchronous=False)
            if update is None:
                continue
            (on_update or print_update)(update)
            if stop_when is not None and stop_when(update):
                break
            if max_records is not None and len(result.handled) >= max_records:
                break
    finally:
        consumer.close()
    return result


def handle(
    message: Message,
    organization_id: str,
    result: ConsumeResult,
    latest: dict[str, int],
    seen_ids: set[str],
) -> ReferralUpdate | None:
    """One record: filter, deduplicate, validate, keep only newer versions."""
    headers = _headers(message)
    if headers.get(RECIPIENT_HEADER) != organization_id:
        result.skipped_other_organizations += 1
        return None
    event_id = headers.get("ce_id", "")
    if event_id in seen_ids:
        result.duplicates += 1
        return None
    seen_ids.add(event_id)
    if not headers.get("content-type", "").startswith(FHIR_JSON):
        print(f"event {event_id}: not FHIR JSON, skipped", file=sys.stderr)
        result.invalid += 1
        return None
    try:
        update = read_bundle(message.value() or b"", event_id)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        # An EHR would park such a record for a person to look at; it must not block the rest.
        print(f"event {event_id}: not a valid referral Bundle: {exc}", file=sys.stderr)
        result.invalid += 1
        return None
    if update.version <= latest.get(update.referral_id, 0):
        result.duplicates += 1  # an older state of a referral we already have
        return None
    latest[update.referral_id] = update.version
    result.handled.append(update)
    return update


def read_bundle(value: bytes, event_id: str) -> ReferralUpdate:
    bundle: Any = Bundle.model_validate_json(value)
    tasks = [e.resource for e in bundle.entry or [] if e.resource.get_resource_type() == "Task"]
    if len(tasks) != 1:
        raise ValueError(f"expected one Task in the Bundle, found {len(tasks)}")
    task = tasks[0]
    return ReferralUpdate(
        referral_id=task.id,
        event_id=event_id,
        version=int(task.meta.versionId),
        status=task.status,
        priority=task.priority,
        security_labels=tuple(label.code for label in task.meta.security or []),
        bundle=bundle,
    )


def print_update(update: ReferralUpdate) -> None:
    print(
        f"referral {update.referral_id} v{update.version}: Task status={update.status} "
        f"priority={update.priority} labels={','.join(update.security_labels)}"
    )


def _headers(message: Message) -> dict[str, str]:
    """Header values as text (CloudEvents headers are UTF-8)."""
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {
        name: value.decode("utf-8", "replace") if isinstance(value, bytes) else value or ""
        for name, value in pairs
    }


def _read_to_end(consumer: Consumer, at_end: set[tuple[str, int]]) -> bool:
    assigned = {(p.topic, p.partition) for p in consumer.assignment()}
    return bool(assigned) and assigned <= at_end


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organization", required=True, help="your organization id")
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("PEERBRIDGE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (default: $PEERBRIDGE_KAFKA_BOOTSTRAP or 127.0.0.1:9092)",
    )
    parser.add_argument("--group", help="consumer group (default: ehr.<organization>.referrals)")
    parser.add_argument("--topic", default=FHIR_TOPIC)
    parser.add_argument("--timeout", type=float, help="stop after this many seconds")
    parser.add_argument("--max-records", type=int, help="stop after this many referral updates")
    parser.add_argument(
        "--to-end", action="store_true", help="stop once everything published so far is read"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="use a new consumer group: read the topic again"
    )
    args = parser.parse_args(argv)
    group = args.group
    if args.fresh:
        group = f"ehr.{args.organization}.example.{uuid.uuid4().hex[:8]}"
    try:
        result = consume(
            args.bootstrap,
            args.organization,
            group_id=group,
            topic=args.topic,
            timeout_s=args.timeout,
            max_records=args.max_records,
            stop_at_end=args.to_end,
        )
    except KeyboardInterrupt:
        return 0
    print(
        f"{len(result.handled)} referral updates for {args.organization}; "
        f"{result.skipped_other_organizations} for other organizations, "
        f"{result.duplicates} duplicates or older versions, {result.invalid} invalid",
        file=sys.stderr,
    )
    return 1 if result.invalid else 0


if __name__ == "__main__":
    sys.exit(main())
