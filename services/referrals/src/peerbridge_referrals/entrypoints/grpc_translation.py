"""gRPC messages ⇄ commands, queries and responses; the rules stay in the domain."""

from __future__ import annotations

from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2

from ..adapters.consent_protobuf import terms_from_proto, to_proto_consent
from ..adapters.protobuf_values import to_proto_referral, to_timestamp, value_name_from_proto
from ..domain.commands import (
    CreateReferral,
    PartyInput,
    RecordConsent,
    RevokeConsent,
    UpdateReferralStatus,
)
from ..domain.disclosure import DisclosureEntry, purpose_code
from ..domain.model import Referral
from ..domain.read_gate import NOT_A_DISCLOSURE, GatedRead, ReadDisclosure, ReadView
from ..domain.values import Category, Direction, PartyKind, Priority, Status, StatusReasonCategory
from ..service_layer.queries import (
    ConsentPage,
    DisclosurePage,
    GetConsent,
    GetReferral,
    ListConsents,
    ListDisclosures,
    ListReferrals,
    ReferralPage,
)


def create_command(request: service_pb2.CreateReferralRequest) -> CreateReferral:
    return CreateReferral(
        request_id=request.request_id,
        subject_member_id=request.subject_member_id,
        direction=value_name_from_proto(Direction, request.direction),
        category=value_name_from_proto(Category, request.category),
        priority=value_name_from_proto(Priority, request.priority),
        reason=request.reason,
        requester=_party(request.requester) if request.HasField("requester") else None,
        recipient=_party(request.recipient) if request.HasField("recipient") else None,
    )


def _party(message: resources_pb2.Party) -> PartyInput:
    return PartyInput(
        kind=value_name_from_proto(PartyKind, message.kind),
        organization_id=message.organization_id,
        display_name=message.display_name,
        practitioner_id=message.practitioner_id if message.HasField("practitioner_id") else None,
    )


def get_query(request: service_pb2.GetReferralRequest) -> GetReferral:
    return GetReferral(referral_id=request.referral_id)


def list_query(request: service_pb2.ListReferralsRequest) -> ListReferrals:
    return ListReferrals(
        page_size=request.page_size,
        page_token=request.page_token,
        subject_member_id=(
            request.subject_member_id if request.HasField("subject_member_id") else None
        ),
        status=value_name_from_proto(Status, request.status)
        if request.HasField("status")
        else None,
    )


def list_response(page: ReferralPage) -> service_pb2.ListReferralsResponse:
    disclosures = page.disclosures or [NOT_A_DISCLOSURE] * len(page.referrals)
    return service_pb2.ListReferralsResponse(
        referrals=[
            read_referral_to_proto(r, d) for r, d in zip(page.referrals, disclosures, strict=True)
        ],
        next_page_token=page.next_page_token,
        disclosures=[read_disclosure_to_proto(d) for d in disclosures],
    )


def get_response(read: GatedRead) -> service_pb2.GetReferralResponse:
    return service_pb2.GetReferralResponse(
        referral=read_referral_to_proto(read.referral, read.disclosure),
        disclosure=read_disclosure_to_proto(read.disclosure),
    )


def update_status_response(answer: GatedRead) -> service_pb2.UpdateReferralStatusResponse:
    return service_pb2.UpdateReferralStatusResponse(
        referral=read_referral_to_proto(answer.referral, answer.disclosure),
        disclosure=read_disclosure_to_proto(answer.disclosure),
    )


def read_referral_to_proto(
    referral: Referral, disclosure: ReadDisclosure
) -> resources_pb2.Referral:
    message = to_proto_referral(referral)
    if disclosure.view is ReadView.REDACTED:
        # The category tells what the member is referred for: withheld with the rest.
        message.ClearField("category")
    return message


_READ_VIEWS = {
    ReadView.FULL: service_pb2.READ_VIEW_FULL,
    ReadView.REDACTED: service_pb2.READ_VIEW_REDACTED,
}


def read_disclosure_to_proto(disclosure: ReadDisclosure) -> service_pb2.ReadDisclosure:
    return service_pb2.ReadDisclosure(
        view=_READ_VIEWS[disclosure.view],
        reason=disclosure.reason,
    )


def update_status_command(request: service_pb2.UpdateReferralStatusRequest) -> UpdateReferralStatus:
    return UpdateReferralStatus(
        referral_id=request.referral_id,
        status=value_name_from_proto(Status, request.status),
        status_reason=request.status_reason,
        status_reason_category=value_name_from_proto(
            StatusReasonCategory, request.status_reason_category
        ),
        outcome=request.outcome,
        expected_version=request.expected_version,
    )


def record_consent_command(request: service_pb2.RecordConsentRequest) -> RecordConsent:
    return RecordConsent(
        request_id=request.request_id,
        terms=terms_from_proto(request.terms) if request.HasField("terms") else None,
    )


def revoke_consent_command(request: service_pb2.RevokeConsentRequest) -> RevokeConsent:
    return RevokeConsent(consent_id=request.consent_id, reason=request.reason)


def get_consent_query(request: service_pb2.GetConsentRequest) -> GetConsent:
    return GetConsent(consent_id=request.consent_id)


def list_consents_query(request: service_pb2.ListConsentsRequest) -> ListConsents:
    return ListConsents(
        subject_member_id=request.subject_member_id,
        page_size=request.page_size,
        page_token=request.page_token,
    )


def list_consents_response(page: ConsentPage) -> service_pb2.ListConsentsResponse:
    return service_pb2.ListConsentsResponse(
        consents=[to_proto_consent(c) for c in page.consents],
        next_page_token=page.next_page_token,
    )


def list_disclosures_query(request: service_pb2.ListDisclosuresRequest) -> ListDisclosures:
    return ListDisclosures(
        subject_member_id=request.subject_member_id,
        page_size=request.page_size,
        page_token=request.page_token,
    )


def list_disclosures_response(page: DisclosurePage) -> service_pb2.ListDisclosuresResponse:
    return service_pb2.ListDisclosuresResponse(
        disclosures=[to_proto_disclosure(d) for d in page.disclosures],
        next_page_token=page.next_page_token,
    )


def to_proto_disclosure(entry: DisclosureEntry) -> service_pb2.Disclosure:
    return service_pb2.Disclosure(
        disclosure_id=str(entry.disclosure_id or ""),
        referral_id=entry.referral_id,
        recipient_organization_id=entry.recipient_organization_id,
        consent_id=entry.consent_id or "",
        purpose=purpose_code(entry.purpose),
        category=entry.category.value,
        description=entry.description,
        disclosed_at=to_timestamp(entry.disclosed_at),
    )
