"""An audit entry as the `AuditRecorded` integration event."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from peerbridge.audit.v1 import audit_events_pb2

from ..envelope import Envelope, envelope_for_proto
from .model import AuditEntry, Outcome

_OUTCOMES = {
    Outcome.ALLOWED: audit_events_pb2.AUDIT_OUTCOME_ALLOWED,
    Outcome.DENIED: audit_events_pb2.AUDIT_OUTCOME_DENIED,
}


def audit_recorded(entry: AuditEntry) -> audit_events_pb2.AuditRecorded:
    occur_time = Timestamp()
    occur_time.FromDatetime(entry.occurred_at)
    return audit_events_pb2.AuditRecorded(
        audit_id=entry.audit_id,
        occur_time=occur_time,
        service=entry.service,
        action=entry.action,
        resource_type=entry.resource_type,
        resource_id=entry.resource_id or "",
        subject_id=entry.subject_id or "",
        outcome=_OUTCOMES[entry.outcome],
        purpose_of_use=entry.purpose.value,
        reason=entry.reason or "",
        actor=audit_events_pb2.AuditActor(
            subject_id=entry.actor.subject_id or "",
            client_id=entry.actor.client_id or "",
            organization_id=entry.actor.organization_id or "",
            roles=list(entry.actor.roles),
            asserted_principal=entry.actor.asserted_principal or "",
        ),
        origin=audit_events_pb2.AuditOrigin(
            peer=entry.origin.peer or "",
            request_id=entry.origin.request_id or "",
            trace_id=entry.origin.trace_id or "",
        ),
    )


def audit_envelope(entry: AuditEntry) -> Envelope:
    """The CloudEvent: id = audit id (consumers dedupe on it), subject = the Kafka key."""
    return envelope_for_proto(
        audit_recorded(entry),
        source=f"/peerbridge/{entry.service}",
        subject=entry.key,
        id=entry.audit_id,
        time=entry.occurred_at,
    )
