"""One line at each call site: `await audit.record(connection, action=..., ...)`.

`record` writes, on the caller's connection and inside its transaction, an
`audit_log` row and an `AuditRecorded` event in the outbox: both commit with
the business change or neither does. `record_denied` opens its own
transaction on the pool, because a refused request writes nothing else and
rolls back whatever it started, yet the attempt must stay on record.

Who, from where and which request are filled in from the call context (the
verified principal, else the caller asserted in metadata; the peer; the
request and trace ids); a background job passes `actor=` explicitly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .. import tracing
from ..auth.context import current_peer, current_principal
from ..grpc.metadata import current_caller, current_request_id
from ..kafka.topics import AUDIT_TOPIC
from ..logging import get_logger
from ..outbox import enqueue
from .events import audit_envelope
from .model import Actor, AuditEntry, Origin, Outcome, PurposeOfUse

_log = get_logger(__name__)

Connection = asyncpg.Connection | PoolConnectionProxy

_INSERT = """
INSERT INTO audit_log (
    audit_id, occurred_at, service, action, resource_type, resource_id, subject_id, outcome,
    purpose_of_use, reason, actor_subject_id, actor_client_id, actor_organization_id,
    actor_roles, actor_asserted, peer, request_id, trace_id
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
"""


class Auditor:
    """Records audit entries for one service; build one in bootstrap and pass it on."""

    def __init__(
        self,
        service: str,
        *,
        pool: asyncpg.Pool | None = None,
        topic: str = AUDIT_TOPIC,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._service = service
        self._pool = pool
        self._topic = topic
        self._clock = clock

    async def record(
        self,
        connection: Connection,
        *,
        action: str,
        resource_type: str,
        resource_id: str | None = None,
        subject_id: str | None = None,
        outcome: Outcome | str,
        purpose: PurposeOfUse | str,
        reason: str | None = None,
        actor: Actor | None = None,
    ) -> AuditEntry:
        """Audit one access inside the caller's transaction; returns what was written.

        `subject_id` is the member the data is about; `purpose` an HL7 PurposeOfUse
        code such as "TREAT"; `reason` a short, non-clinical explanation.
        """
        if not connection.is_in_transaction():
            raise RuntimeError(
                "audit.record must run inside the transaction of the work it records; "
                "use record_denied for a refused request"
            )
        entry = AuditEntry(
            audit_id=str(uuid.uuid4()),
            occurred_at=self._clock(),
            service=self._service,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            subject_id=subject_id,
            outcome=Outcome(outcome),
            purpose=PurposeOfUse(purpose),
            reason=reason,
            actor=actor or actor_from_context(),
            origin=origin_from_context(),
        )
        await _insert(connection, entry)
        await enqueue(connection, topic=self._topic, envelope=audit_envelope(entry))
        return entry

    async def record_denied(
        self,
        *,
        action: str,
        resource_type: str,
        resource_id: str | None = None,
        subject_id: str | None = None,
        purpose: PurposeOfUse | str,
        reason: str | None = None,
        actor: Actor | None = None,
    ) -> AuditEntry:
        """Audit a refused attempt in a transaction of its own, on a connection of the pool.

        Call it after the request's own transaction (if any) has rolled back, or
        hold no pooled connection meanwhile: it needs one more from the pool.
        """
        if self._pool is None:
            raise RuntimeError("record_denied needs the Auditor to have a pool")
        async with self._pool.acquire() as connection, connection.transaction():
            entry = await self.record(
                connection,
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                subject_id=subject_id,
                outcome=Outcome.DENIED,
                purpose=purpose,
                reason=reason,
                actor=actor,
            )
        _log.info(
            "access denied recorded",
            audit_id=entry.audit_id,
            action=action,
            resource_type=resource_type,
        )
        return entry


def actor_from_context() -> Actor:
    """The verified principal of the current call; else the caller's unverified name."""
    principal = current_principal()
    if principal is not None:
        return Actor(
            subject_id=principal.subject,
            client_id=principal.client_id,
            organization_id=principal.organization_id,
            roles=tuple(sorted(role.value for role in principal.roles)),
        )
    caller = current_caller()
    return Actor(asserted_principal=caller.principal if caller is not None else None)


def origin_from_context() -> Origin:
    return Origin(
        peer=current_peer(),
        request_id=current_request_id(),
        trace_id=tracing.current_trace_id(),
    )


async def _insert(connection: Connection, entry: AuditEntry) -> None:
    await connection.execute(
        _INSERT,
        uuid.UUID(entry.audit_id),
        entry.occurred_at,
        entry.service,
        entry.action,
        entry.resource_type,
        entry.resource_id,
        entry.subject_id,
        entry.outcome.value,
        entry.purpose.value,
        entry.reason,
        entry.actor.subject_id,
        entry.actor.client_id,
        entry.actor.organization_id,
        list(entry.actor.roles),
        entry.actor.asserted_principal,
        entry.origin.peer,
        entry.origin.request_id,
        entry.origin.trace_id,
    )
