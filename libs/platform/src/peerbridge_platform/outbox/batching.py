"""Which rows of a published batch may be marked sent (pure logic).

A row counts as sent only when its own delivery succeeded and no earlier row
with the same key failed: otherwise a later event of that key would be marked
while an earlier one is retried, and consumers would see them out of order
more than once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    row_id: int
    key: bytes
    error: BaseException | None


def rows_to_mark_sent(outcomes: Sequence[Outcome]) -> list[int]:
    """Outcomes arrive in outbox order (by id)."""
    blocked: set[bytes] = set()
    sent: list[int] = []
    for outcome in outcomes:
        if outcome.key in blocked:
            continue
        if outcome.error is None:
            sent.append(outcome.row_id)
        else:
            blocked.add(outcome.key)
    return sent
