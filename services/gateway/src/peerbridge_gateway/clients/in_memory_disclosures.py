"""Disclosures kept in memory behind the port: for tests and for running the gateway alone.

It keeps what the gateway relies on (newest first, cursors tied to their member); who may
read which log is the referrals service's rule, tested there and through the gateway in
the integration tests. A test makes it fail with `failures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peerbridge_platform.grpc import Caller

from .disclosures import Disclosure, DisclosurePage, DisclosureQuery
from .in_memory import decode_cursor, encode_cursor


@dataclass
class InMemoryDisclosures:
    # Keyed by member, oldest first, as the service logs them.
    logs: dict[str, list[Disclosure]] = field(default_factory=dict)
    # The next calls raise these, in order.
    failures: list[Exception] = field(default_factory=list)

    async def list_disclosures(self, query: DisclosureQuery, *, caller: Caller) -> DisclosurePage:
        if self.failures:
            raise self.failures.pop(0)
        filters: list[str | None] = [query.subject_member_id]
        start = decode_cursor(query.cursor, filters)
        newest_first = list(reversed(self.logs.get(query.subject_member_id, [])))
        end = start + query.limit
        cursor = encode_cursor(end, filters) if end < len(newest_first) else None
        return DisclosurePage(items=newest_first[start:end], next_cursor=cursor)
