"""What a dead-lettered record carries besides the original (pure logic).

The dead-letter record keeps the original key, value and headers, so it can
be inspected and replayed as it was, and adds why and where it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PREFIX = "peerbridge_dlt_"
REASON = f"{PREFIX}reason"
ATTEMPTS = f"{PREFIX}attempts"
ORIGINAL_TOPIC = f"{PREFIX}original_topic"
ORIGINAL_PARTITION = f"{PREFIX}original_partition"
ORIGINAL_OFFSET = f"{PREFIX}original_offset"
CONSUMER_GROUP = f"{PREFIX}consumer_group"

# Headers are not the place for a long traceback; the logs have it.
MAX_REASON_CHARS = 1000

Headers = list[tuple[str, bytes | None]]


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    attempts: int
    topic: str
    partition: int
    offset: int
    consumer_group: str


def describe(error: BaseException) -> str:
    """A one-line reason: the exception's type and message, cut to a bounded size."""
    message = str(error).replace("\n", " ").strip()
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 3] + "..."
    return text


def dead_letter_headers(
    original: Sequence[tuple[str, bytes | None]] | None, letter: DeadLetter
) -> Headers:
    """The original headers, then ours.

    Dead-letter headers the record already had (it was replayed from a
    dead-letter topic and failed again) are dropped, so each appears once
    and describes the latest failure.
    """
    kept: Headers = [(name, value) for name, value in original or [] if not name.startswith(PREFIX)]
    ours: Headers = [
        (REASON, letter.reason.encode()),
        (ATTEMPTS, str(letter.attempts).encode()),
        (ORIGINAL_TOPIC, letter.topic.encode()),
        (ORIGINAL_PARTITION, str(letter.partition).encode()),
        (ORIGINAL_OFFSET, str(letter.offset).encode()),
        (CONSUMER_GROUP, letter.consumer_group.encode()),
    ]
    return kept + ours
