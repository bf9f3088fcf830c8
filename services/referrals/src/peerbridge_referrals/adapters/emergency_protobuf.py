"""Emergency disclosures ⇄ protobuf messages of `peerbridge.referrals.v1`
(referrals_emergency.proto), and the EmergencyDisclosureMade integration event (ids only,
never the nature of the emergency)."""

from __future__ import annotations

from peerbridge.referrals.v1 import referrals_emergency_pb2 as emergency_pb2
from peerbridge_platform.envelope import Envelope, envelope_for_proto

from ..domain.emergency import EmergencyDisclosure, EmergencyDisclosureMade
from .protobuf_values import to_timestamp


def to_proto_emergency_disclosure(record: EmergencyDisclosure) -> emergency_pb2.EmergencyDisclosure:
    message = emergency_pb2.EmergencyDisclosure(
        emergency_disclosure_id=str(record.emergency_disclosure_id),
        referral_id=str(record.referral_id),
        subject_member_id=record.subject_member_id,
        recipient_person_id=record.recipient_person_id,
        recipient_organization_id=record.recipient_organization_id,
        recipient_facility=record.recipient_facility,
        disclosing_organization_id=record.disclosing_organization_id,
        disclosed_at=to_timestamp(record.disclosed_at),
        nature_of_emergency=record.nature_of_emergency,
        reviewed=record.reviewed,
        reviewed_by=record.reviewed_by or "",
        review_note=record.review_note or "",
    )
    if record.review_time is not None:
        message.review_time.CopyFrom(to_timestamp(record.review_time))
    return message


def emergency_disclosure_made_message(
    event: EmergencyDisclosureMade,
) -> emergency_pb2.EmergencyDisclosureMade:
    record = event.disclosure
    return emergency_pb2.EmergencyDisclosureMade(
        emergency_disclosure_id=str(record.emergency_disclosure_id),
        referral_id=str(record.referral_id),
        subject_member_id=record.subject_member_id,
        disclosing_organization_id=record.disclosing_organization_id,
        recipient_organization_id=record.recipient_organization_id,
        recipient_person_id=record.recipient_person_id,
        disclosed_at=to_timestamp(record.disclosed_at),
    )


def emergency_disclosure_envelope(event: EmergencyDisclosureMade, source: str) -> Envelope:
    # Keyed by the referral id: a referral's events stay in order.
    record = event.disclosure
    return envelope_for_proto(
        emergency_disclosure_made_message(event),
        source=source,
        subject=str(record.referral_id),
        time=record.disclosed_at,
    )
