"""The audit trail of requests the gateway refuses itself: no token, a bad token, a
missing scope, bad input. The services audit what reaches them; these never do.

Each refusal is one `audit_log` row and one `AuditRecorded` event on
`peerbridge.audit.v1` (through the gateway's outbox), with the client's
address as the origin and, for a missing scope, the verified caller as the
actor. A flood of bad tokens must not flood the audit log: past
`per_minute` records per reason and minute the refusals are counted, and the
count is recorded as one entry when the minute is over, so the trail stays
complete in number if not in detail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from peerbridge_platform.audit import Auditor
from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth import Principal, principal_context
from peerbridge_platform.logging import get_logger

from .rate_windows import RateWindows

log = get_logger(__name__)

SERVICE = "gateway"
AUTHENTICATE = "gateway.authenticate"
AUTHORIZE = "gateway.authorize"
# A request refused as bad input: malformed, too large, of the wrong type, or invalid.
VALIDATE = "gateway.validate"
RESOURCE_TYPE = "api_route"


@dataclass(frozen=True)
class Refusal:
    action: str
    reason: str
    # The route, e.g. "GET /v1/referrals/{referral_id}": never the ids in the path.
    route: str
    client_address: str | None
    principal: Principal | None = None


class RefusalAudit(Protocol):
    async def refused(self, refusal: Refusal) -> None: ...


@dataclass
class MemoryRefusalAudit:
    """Refusals kept in a list: for tests and for running the gateway without a database."""

    refusals: list[Refusal] = field(default_factory=list)

    async def refused(self, refusal: Refusal) -> None:
        self.refusals.append(refusal)


class AuditorRefusalAudit:
    """On the gateway's database, each entry in a transaction of its own."""

    def __init__(
        self, auditor: Auditor, per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._auditor = auditor
        self._windows = RateWindows(per_minute, clock)

    async def refused(self, refusal: Refusal) -> None:
        admission = self._windows.admit(refusal.reason)
        held_back = admission.held_back_before
        with principal_context(refusal.principal, peer=refusal.client_address):
            if held_back:
                await self._record(refusal, f"{held_back} more refusals: {refusal.reason}")
            if admission.admitted:
                await self._record(refusal, refusal.reason)

    async def _record(self, refusal: Refusal, reason: str) -> None:
        try:
            await self._auditor.record_denied(
                action=refusal.action,
                resource_type=RESOURCE_TYPE,
                resource_id=refusal.route,
                purpose=PurposeOfUse.HSYSADMIN,
                reason=reason,
            )
        except Exception as error:  # the refusal stands; a lost audit entry is logged loudly
            log.error("refusal not audited", error=repr(error), action=refusal.action)
