"""Domain events → integration events: what leaves the service, on which topic.

Every event goes to the identity events topic. Person events are keyed by
the person id; organization and client events by the organization id, so
each aggregate's events keep their order. They carry ids, roles,
organizations and eligibility, never profile values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import Message

from peerbridge.identity.v1 import identity_events_pb2 as events_pb2
from peerbridge_platform.envelope import Envelope, envelope_for_proto
from peerbridge_platform.kafka import events_topic

from ..domain.events import (
    ClientRegistered,
    DomainEvent,
    OrganizationRegistered,
    PersonRegistered,
    ProfileUpdated,
    RoleGranted,
    RoleRevoked,
    SupporterEligibilityChanged,
)
from .protobuf_values import (
    change_to_proto,
    client_kind_to_proto,
    organization_kind_to_proto,
    role_to_proto,
    roles_to_proto,
    status_to_proto,
    to_proto_date,
    to_proto_reason,
    to_timestamp,
)

EVENTS_TOPIC = events_topic("identity")
SOURCE = "/peerbridge/identity"


@dataclass(frozen=True)
class OutboxMessage:
    topic: str
    envelope: Envelope


def messages_for(event: DomainEvent) -> list[OutboxMessage]:
    message, key, time = _payload(event)
    envelope = envelope_for_proto(message, source=SOURCE, subject=key, time=time)
    return [OutboxMessage(EVENTS_TOPIC, envelope)]


def _payload(event: DomainEvent) -> tuple[Message, str, datetime]:
    """The protobuf message, the aggregate id (the Kafka key) and the event's time."""
    if isinstance(event, PersonRegistered):
        p = event.person
        return (
            events_pb2.PersonRegistered(
                person_id=str(p.person_id),
                roles=roles_to_proto(p.roles),
                organization_id=_id(p.organization_id),
                create_time=to_timestamp(p.create_time),
                version=p.version,
            ),
            str(p.person_id),
            p.create_time,
        )
    if isinstance(event, ProfileUpdated):
        p = event.person
        return (
            events_pb2.ProfileUpdated(
                person_id=str(p.person_id),
                changed_fields=list(event.changed_fields),
                update_time=to_timestamp(p.update_time),
                version=p.version,
            ),
            str(p.person_id),
            p.update_time,
        )
    if isinstance(event, RoleGranted | RoleRevoked):
        return _role_change(event)
    if isinstance(event, OrganizationRegistered):
        o = event.organization
        return (
            events_pb2.OrganizationRegistered(
                organization_id=str(o.organization_id),
                kind=organization_kind_to_proto(o.kind),
                name=o.name,
                create_time=to_timestamp(o.create_time),
            ),
            str(o.organization_id),
            o.create_time,
        )
    if isinstance(event, ClientRegistered):
        c = event.client
        return (
            events_pb2.ClientRegistered(
                client_id=str(c.client_id),
                organization_id=str(c.organization_id),
                kind=client_kind_to_proto(c.kind),
                scopes=list(c.scopes),
                create_time=to_timestamp(c.create_time),
            ),
            str(c.organization_id),
            c.create_time,
        )
    if isinstance(event, SupporterEligibilityChanged):
        return _eligibility_changed(event)
    raise TypeError(f"no integration events defined for {type(event).__name__}")


def _role_change(event: RoleGranted | RoleRevoked) -> tuple[Message, str, datetime]:
    p = event.person
    message: Message
    if isinstance(event, RoleGranted):
        message = events_pb2.RoleGranted(
            person_id=str(p.person_id),
            role=role_to_proto(event.role),
            organization_id=_id(p.organization_id),
            roles=roles_to_proto(p.roles),
            grant_time=to_timestamp(p.update_time),
            version=p.version,
        )
    else:
        message = events_pb2.RoleRevoked(
            person_id=str(p.person_id),
            role=role_to_proto(event.role),
            organization_id=_id(p.organization_id),
            roles=roles_to_proto(p.roles),
            revoke_time=to_timestamp(p.update_time),
            version=p.version,
        )
    return message, str(p.person_id), p.update_time


def _eligibility_changed(event: SupporterEligibilityChanged) -> tuple[Message, str, datetime]:
    state = event.state
    message = events_pb2.SupporterEligibilityChanged(
        person_id=str(state.person_id),
        organization_id=_id(state.organization_id),
        change=change_to_proto(event.change),
        previous_status=status_to_proto(event.previous_status),
        status=status_to_proto(state.status),
        reasons=[to_proto_reason(r) for r in state.reasons],
        effective_on=to_proto_date(state.evaluated_on),
        change_time=to_timestamp(state.change_time),
    )
    if state.lapses_on is not None:
        message.lapses_on.CopyFrom(to_proto_date(state.lapses_on))
    return message, str(state.person_id), state.change_time


def _id(value: object | None) -> str:
    return str(value) if value is not None else ""
