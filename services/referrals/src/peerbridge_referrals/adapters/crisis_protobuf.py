"""Crisis values ⇄ protobuf (`referrals_crisis.proto`, with the sessions risk enums), and the
integration events of risk flags: codes and ids only, keyed by the flag id."""

from __future__ import annotations

from google.protobuf.message import Message

from peerbridge.referrals.v1 import referrals_crisis_pb2 as crisis_pb2
from peerbridge_platform.envelope import Envelope, envelope_for_proto

from ..domain.crisis import (
    CRISIS_GUIDANCE,
    ClinicalContact,
    OnCallShift,
    RiskFlag,
    RiskFlagAcknowledged,
    RiskFlagEscalated,
)
from .protobuf_values import proto_number, to_timestamp


def to_proto_flag(flag: RiskFlag) -> crisis_pb2.RiskFlag:
    details = flag.details
    message = crisis_pb2.RiskFlag(
        flag_id=str(flag.flag_id),
        member_id=details.member_id,
        program_id=details.program_id,
        level=proto_number(details.level),
        kind=proto_number(details.kind),
        source=proto_number(details.source),
        raised_by=flag.raised_by,
        raise_time=to_timestamp(flag.raise_time),
        route=proto_number(flag.route),
        referral_id=str(flag.referral_id) if flag.referral_id else "",
        clinic_organization_id=flag.clinic_organization_id or "",
        assigned_supervisor_id=flag.assigned_supervisor_id or "",
        status=proto_number(flag.status),
        acknowledged_by=flag.acknowledged_by or "",
    )
    if flag.acknowledge_time is not None:
        message.acknowledge_time.CopyFrom(to_timestamp(flag.acknowledge_time))
    return message


def to_proto_guidance() -> crisis_pb2.CrisisGuidance:
    g = CRISIS_GUIDANCE
    return crisis_pb2.CrisisGuidance(
        line_name=g.line_name,
        call_number=g.call_number,
        text_number=g.text_number,
        chat_url=g.chat_url,
        emergency_number=g.emergency_number,
        message=g.message,
    )


def to_proto_contact(contact: ClinicalContact) -> crisis_pb2.ClinicalContact:
    return crisis_pb2.ClinicalContact(
        member_id=contact.member_id,
        program_id=contact.program_id,
        organization_id=contact.organization_id,
        display_name=contact.display_name,
        set_by=contact.set_by,
        update_time=to_timestamp(contact.update_time),
    )


def to_proto_shift(shift: OnCallShift) -> crisis_pb2.OnCallShift:
    return crisis_pb2.OnCallShift(
        shift_id=str(shift.shift_id),
        program_id=shift.program_id,
        supervisor_id=shift.supervisor_id,
        start_time=to_timestamp(shift.start_time),
        end_time=to_timestamp(shift.end_time),
        set_by=shift.set_by,
        create_time=to_timestamp(shift.create_time),
    )


def escalated_message(flag: RiskFlag) -> crisis_pb2.RiskFlagEscalated:
    details = flag.details
    return crisis_pb2.RiskFlagEscalated(
        flag_id=str(flag.flag_id),
        member_id=details.member_id,
        program_id=details.program_id,
        level=proto_number(details.level),
        kind=proto_number(details.kind),
        source=proto_number(details.source),
        route=proto_number(flag.route),
        referral_id=str(flag.referral_id) if flag.referral_id else "",
        assigned_supervisor_id=flag.assigned_supervisor_id or "",
        raise_time=to_timestamp(flag.raise_time),
    )


def crisis_envelope(event: RiskFlagEscalated | RiskFlagAcknowledged, source: str) -> Envelope:
    """The event of a flag, keyed by its id so a flag's escalation and acknowledgement stay in
    order."""
    flag = event.flag
    message: Message
    if isinstance(event, RiskFlagEscalated):
        message, time = escalated_message(flag), flag.raise_time
    else:
        # An acknowledged flag has both.
        assert flag.acknowledge_time is not None
        assert flag.acknowledged_by is not None
        message = crisis_pb2.RiskFlagAcknowledged(
            flag_id=str(flag.flag_id),
            member_id=flag.details.member_id,
            program_id=flag.details.program_id,
            acknowledged_by=flag.acknowledged_by,
            acknowledge_time=to_timestamp(flag.acknowledge_time),
        )
        time = flag.acknowledge_time
    return envelope_for_proto(message, source=source, subject=str(flag.flag_id), time=time)
