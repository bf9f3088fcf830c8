"""The audit port on the platform's `Auditor`: `audit_log` rows and `AuditRecorded` events
(topic peerbridge.audit.v1) through this service's outbox."""

from __future__ import annotations

from asyncpg.pool import PoolConnectionProxy

from peerbridge_platform.audit import Auditor, Outcome

from ..service_layer.audit import Access, DeniedAccessLog

SERVICE = "referrals"


async def record_allowed(auditor: Auditor, connection: PoolConnectionProxy, access: Access) -> None:
    """On `connection`, inside its open transaction."""
    await auditor.record(
        connection,
        action=access.action,
        resource_type=access.resource_type,
        resource_id=access.referral_id,
        subject_id=access.subject_member_id,
        outcome=Outcome.ALLOWED,
        purpose=access.purpose,
        reason=access.reason,
    )


class AuditorDeniedAccessLog(DeniedAccessLog):
    """Each refusal in a transaction of its own, on a connection of the auditor's pool."""

    def __init__(self, auditor: Auditor) -> None:
        self._auditor = auditor

    async def record_denied(self, access: Access) -> None:
        await self._auditor.record_denied(
            action=access.action,
            resource_type=access.resource_type,
            resource_id=access.referral_id,
            subject_id=access.subject_member_id,
            purpose=access.purpose,
            reason=access.reason,
        )
