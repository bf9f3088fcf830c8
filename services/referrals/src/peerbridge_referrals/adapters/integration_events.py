"""Domain events → integration events: what leaves the service, on which topic.

A created referral, and each status change, becomes two records, keyed by the
referral id:
- the protobuf `ReferralCreated` or `ReferralStatusChanged` on the events
  topic, for our own services. Neither carries free text (the reason, the
  status reason, the outcome: protected data), only codes;
- the referral's FHIR view on the FHIR topic, for EHRs, with the receiving
  organization as a CloudEvents extension so an EHR can filter without
  parsing the body.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import Message

from peerbridge.referrals.v1 import referrals_consent_pb2, referrals_events_pb2
from peerbridge_platform.envelope import FHIR_JSON, Envelope, envelope_for_proto
from peerbridge_platform.kafka import REFERRALS_FHIR_TOPIC, events_topic
from peerbridge_platform.outbox import Guard
from peerbridge_platform.tracing import current_traceparent

from ..domain.consent import Consent
from ..domain.crisis import RiskFlagAcknowledged, RiskFlagEscalated
from ..domain.disclosure import Disclosure
from ..domain.emergency import EmergencyDisclosureMade
from ..domain.events import (
    ConsentGiven,
    ConsentRevoked,
    DomainEvent,
    ReferralCreated,
    ReferralStatusChanged,
)
from ..domain.model import Referral
from ..domain.notes import ReferralNoteAdded
from ..domain.overdue import ReferralOverdue
from .consent_guard import ViewGuard
from .crisis_protobuf import crisis_envelope
from .emergency_protobuf import emergency_disclosure_envelope
from .fhir.referral_view import gated_bundle_json, referral_bundle_json
from .notes_protobuf import note_added_envelope
from .protobuf_values import (
    category_to_proto,
    direction_to_proto,
    priority_to_proto,
    proto_number,
    reason_category_to_proto,
    status_to_proto,
    to_proto_party,
    to_timestamp,
)
from .worklist_protobuf import referral_overdue_envelope

EVENTS_TOPIC = events_topic("referrals")
FHIR_TOPIC = REFERRALS_FHIR_TOPIC
SOURCE = "/peerbridge/referrals"
# CloudEvents extension attribute (header `ce_recipientorganization`).
RECIPIENT_EXTENSION = "recipientorganization"
# ce_type of the FHIR view: the body is a FHIR R4 Bundle (see content-type).
FHIR_VIEW_TYPE = "peerbridge.referrals.v1.ReferralFhirView"


@dataclass(frozen=True)
class OutboxMessage:
    topic: str
    envelope: Envelope
    # Set on a full FHIR view: sent as it stands only while its consent is active.
    guard: Guard | None = None


def messages_for(event: DomainEvent) -> list[OutboxMessage]:
    if isinstance(event, ReferralCreated):
        return [
            OutboxMessage(EVENTS_TOPIC, referral_created_envelope(event.referral)),
            fhir_view_message(event.referral, event.disclosure),
        ]
    if isinstance(event, ReferralStatusChanged):
        return [
            OutboxMessage(EVENTS_TOPIC, status_changed_envelope(event)),
            fhir_view_message(event.referral, event.disclosure),
        ]
    if isinstance(event, ConsentGiven):
        return [
            OutboxMessage(
                EVENTS_TOPIC,
                consent_envelope(
                    consent_given_message(event.consent), event.consent, event.consent.create_time
                ),
            )
        ]
    if isinstance(event, ConsentRevoked):
        consent = event.consent
        assert consent.revoke_time is not None  # a revoked consent has its time
        message = referrals_consent_pb2.ConsentRevoked(
            consent_id=str(consent.consent_id),
            subject_member_id=consent.subject_member_id,
            revoke_time=to_timestamp(consent.revoke_time),
        )
        return [
            OutboxMessage(EVENTS_TOPIC, consent_envelope(message, consent, consent.revoke_time))
        ]
    if isinstance(event, ReferralNoteAdded):
        return [OutboxMessage(EVENTS_TOPIC, note_added_envelope(event, SOURCE))]
    if isinstance(event, ReferralOverdue):
        return [
            OutboxMessage(
                EVENTS_TOPIC, referral_overdue_envelope(event, SOURCE, RECIPIENT_EXTENSION)
            )
        ]
    if isinstance(event, RiskFlagEscalated | RiskFlagAcknowledged):
        return [OutboxMessage(EVENTS_TOPIC, crisis_envelope(event, SOURCE))]
    if isinstance(event, EmergencyDisclosureMade):
        return [OutboxMessage(EVENTS_TOPIC, emergency_disclosure_envelope(event, SOURCE))]
    raise TypeError(f"no integration events defined for {type(event).__name__}")


def referral_created_message(referral: Referral) -> referrals_events_pb2.ReferralCreated:
    return referrals_events_pb2.ReferralCreated(
        referral_id=str(referral.referral_id),
        subject_member_id=referral.subject_member_id,
        direction=direction_to_proto(referral.direction),
        category=category_to_proto(referral.category),
        priority=priority_to_proto(referral.priority),
        requester=to_proto_party(referral.requester),
        recipient=to_proto_party(referral.recipient),
        status=status_to_proto(referral.status),
        create_time=to_timestamp(referral.create_time),
        version=referral.version,
    )


def referral_created_envelope(referral: Referral) -> Envelope:
    return envelope_for_proto(
        referral_created_message(referral),
        source=SOURCE,
        subject=str(referral.referral_id),
        time=referral.create_time,
        extensions=_recipient(referral),
    )


def status_changed_message(
    event: ReferralStatusChanged,
) -> referrals_events_pb2.ReferralStatusChanged:
    referral = event.referral
    return referrals_events_pb2.ReferralStatusChanged(
        referral_id=str(referral.referral_id),
        subject_member_id=referral.subject_member_id,
        from_status=status_to_proto(event.previous_status),
        to_status=status_to_proto(referral.status),
        changed_by_organization_id=event.changed_by.organization_id,
        status_reason_category=reason_category_to_proto(referral.status_reason_category),
        version=referral.version,
        change_time=to_timestamp(referral.update_time),
        recipient_organization_id=referral.recipient.organization_id,
        requester_organization_id=referral.requester.organization_id,
    )


def status_changed_envelope(event: ReferralStatusChanged) -> Envelope:
    referral = event.referral
    return envelope_for_proto(
        status_changed_message(event),
        source=SOURCE,
        subject=str(referral.referral_id),
        time=referral.update_time,
        extensions=_recipient(referral),
    )


def fhir_view_message(referral: Referral, disclosure: Disclosure | None) -> OutboxMessage:
    """The FHIR view for the outbox; a full view is guarded by its consent, with the minimal
    view as the fallback the relay sends if the consent is revoked before the send."""
    envelope = fhir_view_envelope(referral, disclosure)
    if disclosure is None or disclosure.consent is None:
        return OutboxMessage(FHIR_TOPIC, envelope)
    guard = Guard(
        str(ViewGuard.of(referral, disclosure.consent)), gated_bundle_json(referral, None)
    )
    return OutboxMessage(FHIR_TOPIC, envelope, guard)


def fhir_view_envelope(referral: Referral, disclosure: Disclosure | None = None) -> Envelope:
    """The referral's current FHIR state as the consent gate decided (full or minimal; the
    ungated view when no decision was made, which the outbox writer refuses); consumers
    keep the highest meta.versionId."""
    data = (
        referral_bundle_json(referral)
        if disclosure is None
        else gated_bundle_json(referral, disclosure.consent)
    )
    return Envelope(
        id=str(uuid.uuid4()),
        source=SOURCE,
        type=FHIR_VIEW_TYPE,
        subject=str(referral.referral_id),
        time=referral.update_time,
        data=data,
        content_type=f"{FHIR_JSON}; fhirVersion=4.0",
        traceparent=current_traceparent(),
        extensions=_recipient(referral),
    )


def _recipient(referral: Referral) -> dict[str, str]:
    return {RECIPIENT_EXTENSION: referral.recipient.organization_id}


def consent_given_message(consent: Consent) -> referrals_consent_pb2.ConsentGiven:
    """Codes and ids only: neither the instructions, the expiry event nor the witness."""
    terms = consent.terms
    message = referrals_consent_pb2.ConsentGiven(
        consent_id=str(consent.consent_id),
        subject_member_id=terms.subject_member_id,
        disclosing_organization_id=terms.disclosing_organization_id,
        recipient_organization_ids=sorted(terms.recipient_organization_ids),
        recipient_classes=sorted(proto_number(c) for c in terms.recipient_classes),
        categories=sorted(proto_number(c) for c in terms.categories),
        purposes=sorted(proto_number(p) for p in terms.purposes),
        valid_from=to_timestamp(terms.valid_from),
        create_time=to_timestamp(consent.create_time),
    )
    if terms.expires_at is not None:
        message.expires_at.CopyFrom(to_timestamp(terms.expires_at))
    return message


def consent_envelope(message: Message, consent: Consent, time: datetime) -> Envelope:
    # Keyed by the consent id: a consent's given and revoked stay in order.
    return envelope_for_proto(message, source=SOURCE, subject=str(consent.consent_id), time=time)
