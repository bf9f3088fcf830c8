"""Writes a domain event's integration events into the platform outbox, in the caller's
transaction, so they are published exactly when the state change commits."""

from __future__ import annotations

from asyncpg.pool import PoolConnectionProxy

from peerbridge_platform import outbox

from ..domain.events import DomainEvent, ReferralCreated, ReferralStatusChanged
from .integration_events import messages_for


async def write_to_outbox(connection: PoolConnectionProxy, event: DomainEvent) -> None:
    if isinstance(event, ReferralCreated | ReferralStatusChanged) and event.disclosure is None:
        # Nothing about a member leaves ungated: the handlers decide each FHIR view.
        raise ValueError(f"{type(event).__name__} has no consent decision for its FHIR view")
    for message in messages_for(event):
        await outbox.enqueue(
            connection, topic=message.topic, envelope=message.envelope, guard=message.guard
        )
