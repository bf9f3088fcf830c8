"""The worklist repository on PostgreSQL (asyncpg), on the unit of work's connection.

The windows are pushed into the sweeper's query as a small table, so the database
returns only referrals that are due; the service then applies the same rule
(domain.overdue) before raising anything. The primary key of `referral_overdue` makes
each state raised once, whatever several sweepers do at the same moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.overdue import OverdueKind, OverdueState, OverdueWindows, WaitingReferral
from ..domain.values import Category, Priority, Status, StatusReasonCategory
from ..domain.worklist import LOOP_CLOSING, WorklistItem, WorklistItemKind, side_of
from ..service_layer.repository import Cursor
from ..service_layer.worklist_repository import WorklistRepository

_CLAIM_DUE = """
SELECT r.referral_id, r.version, r.status, r.priority, r.requester_organization_id,
       r.recipient_organization_id, r.update_time
FROM referrals r
JOIN unnest($1::text[], $2::text[], $3::text[], $4::float8[]) AS w(status, priority, kind, seconds)
  ON w.status = r.status AND w.priority = r.priority
WHERE r.status IN ('requested', 'accepted')
  AND r.update_time <= $6
  AND r.update_time + make_interval(secs => w.seconds) <= $5
  AND NOT EXISTS (
      SELECT 1 FROM referral_overdue o
      WHERE o.referral_id = r.referral_id AND o.referral_version = r.version AND o.kind = w.kind
  )
ORDER BY r.update_time + make_interval(secs => w.seconds), r.referral_id
LIMIT $7
FOR UPDATE OF r SKIP LOCKED
"""

_RAISE = """
INSERT INTO referral_overdue (
    referral_id, referral_version, kind, status, priority, due_time, detect_time
) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT DO NOTHING
RETURNING referral_id
"""

# Overdue items stay while the referral is at the overdue version; closed-loop items
# are the organization's requests closed since $2, not marked seen at that version.
_LIST = """
WITH items AS (
    SELECT r.referral_id, r.subject_member_id, 'overdue' AS item_kind, o.kind AS overdue_kind,
           r.priority, r.status, r.category, r.requester_organization_id,
           r.recipient_organization_id, o.due_time AS item_time, r.status_reason_category
    FROM referral_overdue o
    JOIN referrals r ON r.referral_id = o.referral_id AND r.version = o.referral_version
    WHERE r.requester_organization_id = $1 OR r.recipient_organization_id = $1
    UNION ALL
    SELECT r.referral_id, r.subject_member_id, 'loop_closed', NULL, r.priority, r.status,
           r.category, r.requester_organization_id, r.recipient_organization_id,
           r.update_time, r.status_reason_category
    FROM referrals r
    WHERE r.requester_organization_id = $1 AND r.status = ANY($3::text[])
      AND r.update_time >= $2
      AND NOT EXISTS (
          SELECT 1 FROM worklist_seen s
          WHERE s.organization_id = $1 AND s.referral_id = r.referral_id
            AND s.referral_version = r.version
      )
)
SELECT * FROM items
WHERE $5::timestamptz IS NULL OR (item_time, referral_id) > ($5::timestamptz, $6::uuid)
ORDER BY item_time, referral_id
LIMIT $4
"""

_MARK_SEEN = """
WITH target AS (
    SELECT referral_id, version, subject_member_id FROM referrals
    WHERE referral_id = $2 AND requester_organization_id = $1 AND status = ANY($5::text[])
), marked AS (
    INSERT INTO worklist_seen (organization_id, referral_id, referral_version, seen_by, seen_at)
    SELECT $1, referral_id, version, $3, $4 FROM target
    ON CONFLICT DO NOTHING
)
SELECT subject_member_id FROM target
"""

_CLOSING = sorted(status.value for status in LOOP_CLOSING)


class PostgresWorklistRepository(WorklistRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def claim_due(
        self, windows: OverdueWindows, now: datetime, limit: int
    ) -> list[WaitingReferral]:
        rows = windows.rows()
        shortest = min(window for *_, window in rows)
        found = await self._connection.fetch(
            _CLAIM_DUE,
            [status.value for status, *_ in rows],
            [priority.value for _, priority, *_ in rows],
            [kind.value for _, _, kind, _ in rows],
            [window.total_seconds() for *_, window in rows],
            now,
            now - shortest,
            limit,
        )
        return [_waiting(row) for row in found]

    async def raise_overdue(self, state: OverdueState, detect_time: datetime) -> bool:
        inserted = await self._connection.fetchval(
            _RAISE,
            state.referral_id,
            state.version,
            state.kind.value,
            state.status.value,
            state.priority.value,
            state.due_time,
            detect_time,
        )
        return inserted is not None

    async def list_items(
        self,
        organization_id: str,
        *,
        closed_since: datetime,
        after: Cursor | None,
        limit: int,
    ) -> list[WorklistItem]:
        position: list[Any] = (
            [None, None] if after is None else [after.create_time, after.referral_id]
        )
        rows = await self._connection.fetch(
            _LIST, organization_id, closed_since, _CLOSING, limit, *position
        )
        return [_item(row, organization_id) for row in rows]

    async def mark_seen(
        self, organization_id: str, referral_id: UUID, *, by: str, now: datetime
    ) -> str | None:
        member: str | None = await self._connection.fetchval(
            _MARK_SEEN, organization_id, referral_id, by, now, _CLOSING
        )
        return member


def _waiting(row: asyncpg.Record) -> WaitingReferral:
    return WaitingReferral(
        referral_id=row["referral_id"],
        version=row["version"],
        status=Status(row["status"]),
        priority=Priority(row["priority"]),
        requester_organization_id=row["requester_organization_id"],
        recipient_organization_id=row["recipient_organization_id"],
        since=row["update_time"],
    )


def _item(row: asyncpg.Record, organization_id: str) -> WorklistItem:
    requester, recipient = row["requester_organization_id"], row["recipient_organization_id"]
    side = side_of(organization_id, requester, recipient)
    assert side is not None  # the query keeps the organization's own referrals
    reason = row["status_reason_category"]
    return WorklistItem(
        referral_id=row["referral_id"],
        subject_member_id=row["subject_member_id"],
        kind=WorklistItemKind(row["item_kind"]),
        overdue_kind=OverdueKind(row["overdue_kind"]) if row["overdue_kind"] else None,
        side=side,
        priority=Priority(row["priority"]),
        status=Status(row["status"]),
        category=Category(row["category"]),
        counterpart_organization_id=recipient if side == "requester" else requester,
        item_time=row["item_time"],
        status_reason_category=StatusReasonCategory(reason) if reason else None,
    )
