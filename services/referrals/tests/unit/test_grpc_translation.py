"""gRPC requests become commands and queries without judging them."""

from __future__ import annotations

from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge_referrals.domain.commands import PartyInput
from peerbridge_referrals.entrypoints import grpc_translation as translate


def test_a_full_create_request_becomes_a_command() -> None:
    request = service_pb2.CreateReferralRequest(
        request_id="req-1",
        subject_member_id="member-synthetic-001",
        direction=resources_pb2.REFERRAL_DIRECTION_CLINIC_TO_PEER_SUPPORT,
        category=resources_pb2.REFERRAL_CATEGORY_PEER_SUPPORT,
        priority=resources_pb2.REFERRAL_PRIORITY_ASAP,
        reason="Discharged; wants a peer supporter.",
        requester=resources_pb2.Party(
            kind=resources_pb2.PARTY_KIND_CLINIC,
            organization_id="clinic-1",
            display_name="Clinic (test)",
            practitioner_id="dr-1",
        ),
        recipient=resources_pb2.Party(
            kind=resources_pb2.PARTY_KIND_PEER_SUPPORT_PROGRAM,
            organization_id="program-1",
            display_name="Program (test)",
        ),
    )

    command = translate.create_command(request)

    assert command.direction == "clinic_to_peer_support"
    assert command.category == "peer_support"
    assert command.priority == "asap"
    assert command.requester == PartyInput("clinic", "clinic-1", "Clinic (test)", "dr-1")
    assert command.recipient == PartyInput("peer_support_program", "program-1", "Program (test)")


def test_unset_and_unknown_values_are_passed_on_for_the_domain_to_judge() -> None:
    request = service_pb2.CreateReferralRequest(priority=42)  # type: ignore[arg-type]

    command = translate.create_command(request)

    assert (command.direction, command.category, command.priority) == ("", "", "42")
    assert command.requester is None
    assert command.recipient is None


def test_an_empty_practitioner_id_is_kept_apart_from_an_absent_one() -> None:
    party = resources_pb2.Party(kind=resources_pb2.PARTY_KIND_CLINIC, practitioner_id="")

    command = translate.create_command(service_pb2.CreateReferralRequest(requester=party))

    assert command.requester is not None
    assert command.requester.practitioner_id == ""


def test_list_filters_are_none_unless_present() -> None:
    assert translate.list_query(service_pb2.ListReferralsRequest()).status is None
    assert translate.list_query(service_pb2.ListReferralsRequest()).subject_member_id is None

    query = translate.list_query(
        service_pb2.ListReferralsRequest(
            page_size=7,
            page_token="t",
            subject_member_id="",
            status=resources_pb2.REFERRAL_STATUS_UNSPECIFIED,
        )
    )

    assert (query.page_size, query.page_token, query.subject_member_id, query.status) == (
        7,
        "t",
        "",
        "",
    )
