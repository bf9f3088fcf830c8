"""The relay's check that a consented FHIR view may still go: 42 CFR 2.31 revocation
stops every future disclosure at once, including views not yet sent.

Each full view is enqueued with a guard naming the consent it was decided under
and the referral version it shows, and with the minimal view as its fallback.
At send time the relay asks `ConsentGuard` which consents are still active (and
in their period), locking them FOR SHARE until the views are in the producer's
hands, so a revocation either commits first (and the minimal view goes) or
waits for the send. A view that falls back has its disclosure log entry marked
withdrawn and the decision audited, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from peerbridge_platform.audit import Actor, Auditor, Outcome, PurposeOfUse

from ..domain.consent import Consent
from ..domain.model import Referral
from ..service_layer.audit import DISCLOSE, RESOURCE_TYPE

WITHDRAWN_REASON = "consent revoked or expired before the view was sent; minimal view sent instead"
# Who acts when the relay withholds: the service itself, not a caller.
RELAY_ACTOR = Actor(client_id="peerbridge-referrals-relay")


@dataclass(frozen=True)
class ViewGuard:
    """What a full view was decided under: the consent, and the referral version it shows."""

    consent_id: UUID
    referral_id: UUID
    version: int

    def __str__(self) -> str:
        return f"{self.consent_id}/{self.referral_id}/{self.version}"

    @classmethod
    def of(cls, referral: Referral, consent: Consent) -> ViewGuard:
        return cls(consent.consent_id, referral.referral_id, referral.version)

    @classmethod
    def parse(cls, guard_id: str) -> ViewGuard:
        consent_id, referral_id, version = guard_id.split("/")
        return cls(UUID(consent_id), UUID(referral_id), int(version))


_STILL_ACTIVE = """
SELECT consent_id FROM consents
WHERE consent_id = ANY($1::uuid[])
  AND status = 'active'
  AND valid_from <= clock_timestamp()
  AND (expires_at IS NULL OR expires_at > clock_timestamp())
FOR SHARE
"""

_WITHDRAW = """
UPDATE disclosure_log SET withdrawn_at = clock_timestamp(), withdrawn_reason = $4
WHERE referral_id = $1 AND referral_version = $2 AND consent_id = $3
  AND channel = 'fhir_view' AND withdrawn_at IS NULL
RETURNING subject_member_id, purpose
"""


class ConsentGuard:
    """The referrals service's `OutboxGuard` (peerbridge_platform.outbox)."""

    def __init__(self, auditor: Auditor) -> None:
        self._auditor = auditor

    async def holding(self, connection: asyncpg.Connection, guard_ids: Collection[str]) -> set[str]:
        guards = {guard_id: ViewGuard.parse(guard_id) for guard_id in guard_ids}
        rows = await connection.fetch(
            _STILL_ACTIVE, sorted({g.consent_id for g in guards.values()})
        )
        active = {row["consent_id"] for row in rows}
        return {guard_id for guard_id, g in guards.items() if g.consent_id in active}

    async def fell_back(self, connection: asyncpg.Connection, guard_ids: Collection[str]) -> None:
        for guard_id in sorted(guard_ids):
            guard = ViewGuard.parse(guard_id)
            logged = await connection.fetchrow(
                _WITHDRAW, guard.referral_id, guard.version, guard.consent_id, WITHDRAWN_REASON
            )
            await self._auditor.record(
                connection,
                action=DISCLOSE,
                resource_type=RESOURCE_TYPE,
                resource_id=str(guard.referral_id),
                subject_id=logged["subject_member_id"] if logged else None,
                outcome=Outcome.DENIED,
                purpose=_purpose(logged["purpose"] if logged else None),
                reason=(
                    f"minimal view of version {guard.version} sent: consent "
                    f"{guard.consent_id} no longer active at send time"
                ),
                actor=RELAY_ACTOR,
            )


def _purpose(code: str | None) -> PurposeOfUse:
    # The log stores the purpose the view was decided for; treatment when it is gone.
    try:
        return PurposeOfUse((code or "").upper())
    except ValueError:
        return PurposeOfUse.TREAT
