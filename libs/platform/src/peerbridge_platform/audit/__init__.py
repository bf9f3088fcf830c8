"""The audit trail: who read or changed protected data (or tried to), when, why, from where.

Build one `Auditor(service, pool=pool)` in bootstrap, then at each call site:
`await audit.record(connection, action="referral.read", resource_type="referral",
resource_id=..., subject_id=member_id, outcome=Outcome.ALLOWED, purpose="TREAT")`
inside the business transaction, or `await audit.record_denied(...)` for a
refused attempt. Apply `AUDIT_MIGRATIONS` together with the outbox's.
"""

from ..kafka.topics import AUDIT_TOPIC
from ..migrations import load_migrations
from .events import audit_envelope, audit_recorded
from .model import PURPOSE_OF_USE_SYSTEM, Actor, AuditEntry, Origin, Outcome, PurposeOfUse
from .recorder import Auditor, actor_from_context, origin_from_context

AUDIT_MIGRATIONS = load_migrations("platform.audit", "peerbridge_platform.audit")

__all__ = [
    "AUDIT_MIGRATIONS",
    "AUDIT_TOPIC",
    "PURPOSE_OF_USE_SYSTEM",
    "Actor",
    "AuditEntry",
    "Auditor",
    "Origin",
    "Outcome",
    "PurposeOfUse",
    "actor_from_context",
    "audit_envelope",
    "audit_recorded",
    "origin_from_context",
]
