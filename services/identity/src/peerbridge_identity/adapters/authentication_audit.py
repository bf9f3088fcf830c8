"""Authentication events in the audit trail: each in a transaction of its own, since a
token grant changes no record the entry could commit with."""

from __future__ import annotations

import asyncpg

from peerbridge_platform.audit import Auditor, Outcome
from peerbridge_platform.audit.model import Actor, PurposeOfUse

RESOURCE_TYPE = "credential"


class AuditorAuthenticationAudit:
    def __init__(self, auditor: Auditor, pool: asyncpg.Pool) -> None:
        self._auditor = auditor
        self._pool = pool

    async def allowed(
        self, action: str, *, subject_id: str | None, reason: str, actor: Actor
    ) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await self._auditor.record(
                connection,
                action=action,
                resource_type=RESOURCE_TYPE,
                subject_id=subject_id,
                outcome=Outcome.ALLOWED,
                purpose=PurposeOfUse.HSYSADMIN,
                reason=reason,
                actor=actor,
            )

    async def denied(self, action: str, *, subject_id: str | None, reason: str) -> None:
        await self._auditor.record_denied(
            action=action,
            resource_type=RESOURCE_TYPE,
            subject_id=subject_id,
            purpose=PurposeOfUse.HSYSADMIN,
            reason=reason,
        )
