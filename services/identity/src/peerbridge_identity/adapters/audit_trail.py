"""The audit trail on the platform's `Auditor`: `audit_log` rows and `AuditRecorded` events
(topic peerbridge.audit.v1) through this service's outbox.

Who and from where come from the call context (the verified principal and
the peer), never from the request.
"""

from __future__ import annotations

from asyncpg.pool import PoolConnectionProxy

from peerbridge_platform.audit import Auditor, Outcome

from ..domain.access_rules import Access

SERVICE = "identity"


async def record_allowed(auditor: Auditor, connection: PoolConnectionProxy, access: Access) -> None:
    """On `connection`, inside its open transaction."""
    await auditor.record(
        connection,
        action=access.action,
        resource_type=access.resource_type,
        resource_id=access.resource_id,
        subject_id=access.subject_id,
        outcome=Outcome.ALLOWED,
        purpose=access.purpose,
        reason=access.reason,
    )


async def record_denied(auditor: Auditor, access: Access) -> None:
    """In a transaction of its own, on a connection of the auditor's pool."""
    await auditor.record_denied(
        action=access.action,
        resource_type=access.resource_type,
        resource_id=access.resource_id,
        subject_id=access.subject_id,
        purpose=access.purpose,
        reason=access.reason,
    )
