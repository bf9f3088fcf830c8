"""Follow-up values ⇄ `peerbridge.referrals.v1` worklist messages, and the overdue event."""

from __future__ import annotations

from peerbridge.referrals.v1 import referrals_worklist_pb2 as worklist_pb2
from peerbridge_platform.envelope import Envelope, envelope_for_proto

from ..domain.overdue import OverdueKind, ReferralOverdue
from ..domain.worklist import Side, WorklistItem, WorklistItemKind
from .protobuf_values import proto_number, to_timestamp

OVERDUE_KINDS = {
    OverdueKind.ACKNOWLEDGE: worklist_pb2.OVERDUE_KIND_ACKNOWLEDGE,
    OverdueKind.ACT: worklist_pb2.OVERDUE_KIND_ACT,
}
ITEM_KINDS = {
    WorklistItemKind.OVERDUE: worklist_pb2.WORKLIST_ITEM_KIND_OVERDUE,
    WorklistItemKind.LOOP_CLOSED: worklist_pb2.WORKLIST_ITEM_KIND_LOOP_CLOSED,
}
SIDES = {
    Side.REQUESTER: worklist_pb2.WORKLIST_SIDE_REQUESTER,
    Side.RECIPIENT: worklist_pb2.WORKLIST_SIDE_RECIPIENT,
}


def referral_overdue_message(event: ReferralOverdue) -> worklist_pb2.ReferralOverdue:
    """Codes and ids only: no member, no free text."""
    state = event.state
    return worklist_pb2.ReferralOverdue(
        referral_id=str(state.referral_id),
        requester_organization_id=state.requester_organization_id,
        recipient_organization_id=state.recipient_organization_id,
        priority=proto_number(state.priority),
        status=proto_number(state.status),
        kind=OVERDUE_KINDS[state.kind],
        due_time=to_timestamp(state.due_time),
        version=state.version,
        detect_time=to_timestamp(event.detect_time),
    )


def referral_overdue_envelope(
    event: ReferralOverdue, source: str, recipient_extension: str
) -> Envelope:
    # Keyed by the referral id, in order with the referral's other events; the recipient
    # header like theirs, so a clinic filters without decoding.
    state = event.state
    return envelope_for_proto(
        referral_overdue_message(event),
        source=source,
        subject=str(state.referral_id),
        time=event.detect_time,
        extensions={recipient_extension: state.recipient_organization_id},
    )


def to_proto_item(item: WorklistItem) -> worklist_pb2.WorklistItem:
    message = worklist_pb2.WorklistItem(
        item_id=item.item_id,
        referral_id=str(item.referral_id),
        subject_member_id=item.subject_member_id,
        kind=ITEM_KINDS[item.kind],
        side=SIDES[item.side],
        priority=proto_number(item.priority),
        status=proto_number(item.status),
        category=proto_number(item.category),
        counterpart_organization_id=item.counterpart_organization_id,
        item_time=to_timestamp(item.item_time),
    )
    if item.overdue_kind is not None:
        message.overdue_kind = OVERDUE_KINDS[item.overdue_kind]
    if item.status_reason_category is not None:
        message.status_reason_category = proto_number(item.status_reason_category)
    return message
