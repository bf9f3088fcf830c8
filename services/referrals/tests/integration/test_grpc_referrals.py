"""The referrals service over a real socket, on real PostgreSQL: Create, Get, List."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import pytest

from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge_platform.errors import FieldViolation
from peerbridge_platform.grpc import field_violations

pytestmark = pytest.mark.integration

Stub = Any  # ReferralsServiceAsyncStub; calls are typed per method


def synthetic_request(**changes: Any) -> service_pb2.CreateReferralRequest:
    """A valid request about a synthetic member; keyword arguments replace fields."""
    request = service_pb2.CreateReferralRequest(
        request_id=str(uuid.uuid4()),
        subject_member_id="member-synthetic-001",
        direction=resources_pb2.REFERRAL_DIRECTION_PEER_SUPPORT_TO_CLINIC,
        category=resources_pb2.REFERRAL_CATEGORY_MEDICATION_FOR_OPIOID_USE_DISORDER,
        priority=resources_pb2.REFERRAL_PRIORITY_URGENT,
        reason="Asked for help starting buprenorphine after a peer session.",
        requester=resources_pb2.Party(
            kind=resources_pb2.PARTY_KIND_PEER_SUPPORT_PROGRAM,
            organization_id="program-harbour-test",
            display_name="Harbour Peer Recovery (test)",
            practitioner_id="supporter-test-7",
        ),
        recipient=resources_pb2.Party(
            kind=resources_pb2.PARTY_KIND_CLINIC,
            organization_id="clinic-northside-test",
            display_name="Northside Health Clinic (test)",
        ),
    )
    for name, value in changes.items():
        if value is None:
            request.ClearField(name)  # type: ignore[arg-type]
        elif isinstance(value, resources_pb2.Party):
            getattr(request, name).CopyFrom(value)
        else:
            setattr(request, name, value)
    return request


async def create(stub: Stub, **changes: Any) -> resources_pb2.Referral:
    response = await stub.CreateReferral(synthetic_request(**changes))
    referral: resources_pb2.Referral = response.referral
    return referral


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


# -- create and get -----------------------------------------------------------


async def test_create_returns_a_requested_referral_that_get_returns_again(service: Any) -> None:
    created = await create(service.stub)

    fetched = await service.stub.GetReferral(
        service_pb2.GetReferralRequest(referral_id=created.referral_id)
    )

    assert uuid.UUID(created.referral_id)
    assert created.status == resources_pb2.REFERRAL_STATUS_REQUESTED
    assert created.version == 1
    assert created.create_time == created.update_time
    assert created.reason == "Asked for help starting buprenorphine after a peer session."
    assert created.requester.practitioner_id == "supporter-test-7"
    assert not created.recipient.HasField("practitioner_id")
    assert fetched.referral == created


async def test_get_of_an_unknown_referral_is_not_found(service: Any) -> None:
    error = await refused(
        service.stub.GetReferral(service_pb2.GetReferralRequest(referral_id=str(uuid.uuid4())))
    )

    assert error.code() is grpc.StatusCode.NOT_FOUND


async def test_get_with_a_malformed_id_names_the_field(service: Any) -> None:
    error = await refused(
        service.stub.GetReferral(service_pb2.GetReferralRequest(referral_id="r-1"))
    )

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error) == [FieldViolation("referral_id", "must be a UUID")]


async def test_an_invalid_create_names_every_field_and_writes_nothing(service: Any) -> None:
    request = synthetic_request(
        subject_member_id="",
        direction=resources_pb2.REFERRAL_DIRECTION_UNSPECIFIED,
        priority=99,
        reason="",
        recipient=None,
        requester=resources_pb2.Party(
            kind=resources_pb2.PARTY_KIND_CLINIC,
            organization_id="bad id",
            display_name="Harbour Peer Recovery (test)",
        ),
    )

    error = await refused(service.stub.CreateReferral(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in field_violations(error)} == {
        "subject_member_id",
        "direction",
        "priority",
        "reason",
        "requester.organization_id",
        "recipient",
    }
    assert await service.count("referrals") == 0
    assert await service.count_events() == 0
    # The attempt itself is on record: the fields, never their values.
    audit = await service.pool.fetch("SELECT action, outcome, reason FROM audit_log")
    assert [(r["action"], r["outcome"]) for r in audit] == [("rpc.create_referral", "denied")]
    assert audit[0]["reason"].startswith("invalid input: direction, priority, reason")


async def test_parties_must_match_the_direction(service: Any) -> None:
    error = await refused(
        service.stub.CreateReferral(
            synthetic_request(direction=resources_pb2.REFERRAL_DIRECTION_CLINIC_TO_PEER_SUPPORT)
        )
    )

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(error)] == ["requester.kind", "recipient.kind"]


# -- idempotency ----------------------------------------------------------------


async def test_a_retry_with_the_same_request_id_returns_the_same_referral(service: Any) -> None:
    request = synthetic_request()

    first = await service.stub.CreateReferral(request)
    again = await service.stub.CreateReferral(request)

    assert again.referral == first.referral
    assert await service.count("referrals") == 1
    assert await service.count_events() == 2


async def test_reusing_a_request_id_for_another_referral_is_aborted(service: Any) -> None:
    request = synthetic_request()
    await service.stub.CreateReferral(request)
    request.reason = "A different reason."

    error = await refused(service.stub.CreateReferral(request))

    assert error.code() is grpc.StatusCode.ABORTED
    assert await service.count("referrals") == 1


async def test_ten_concurrent_duplicates_create_one_referral(service: Any) -> None:
    request = synthetic_request()

    responses = await asyncio.gather(*(service.stub.CreateReferral(request) for _ in range(10)))

    assert len({r.referral.referral_id for r in responses}) == 1
    assert await service.count("referrals") == 1
    assert await service.count_events() == 2
    # Ten creates, and one disclosure decision for the one referral made.
    assert await service.count("audit_log") == 11


async def test_without_a_request_id_each_call_creates_a_referral(service: Any) -> None:
    request = synthetic_request(request_id="")

    first = await service.stub.CreateReferral(request)
    second = await service.stub.CreateReferral(request)

    assert first.referral.referral_id != second.referral.referral_id
    assert await service.count("referrals") == 2


# -- list -----------------------------------------------------------------------


async def list_everything(stub: Stub, **filters: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    token = ""
    while True:
        response = await stub.ListReferrals(
            service_pb2.ListReferralsRequest(page_token=token, **filters)
        )
        pages.append([r.referral_id for r in response.referrals])
        token = response.next_page_token
        if not token:
            return pages


async def test_list_pages_through_everything_newest_first(service: Any) -> None:
    created = [(await create(service.stub)).referral_id for _ in range(7)]

    pages = await list_everything(service.stub, page_size=3)

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [rid for page in pages for rid in page] == created[::-1]


async def test_list_uses_the_default_page_size_and_caps_large_ones(service: Any) -> None:
    for _ in range(6):
        await create(service.stub)

    default = await service.stub.ListReferrals(service_pb2.ListReferralsRequest())
    capped = await service.stub.ListReferrals(service_pb2.ListReferralsRequest(page_size=1000))

    assert len(default.referrals) == 3
    assert len(capped.referrals) == 5


async def test_list_filters_by_member_and_by_status(service: Any) -> None:
    mine = {(await create(service.stub, subject_member_id="member-synthetic-a")).referral_id
            for _ in range(4)}  # fmt: skip
    theirs = (await create(service.stub, subject_member_id="member-synthetic-b")).referral_id

    by_member = await list_everything(
        service.stub, page_size=2, subject_member_id="member-synthetic-a"
    )
    requested = await list_everything(service.stub, status=resources_pb2.REFERRAL_STATUS_REQUESTED)
    accepted = await list_everything(service.stub, status=resources_pb2.REFERRAL_STATUS_ACCEPTED)

    assert {rid for page in by_member for rid in page} == mine
    assert {rid for page in requested for rid in page} == mine | {theirs}
    assert accepted == [[]]


@pytest.mark.parametrize(
    ("request_fields", "fields"),
    [
        ({"page_size": -1}, ["page_size"]),
        ({"status": resources_pb2.REFERRAL_STATUS_UNSPECIFIED}, ["status"]),
        ({"subject_member_id": ""}, ["subject_member_id"]),
        ({"page_token": "garbage"}, ["page_token"]),
    ],
)
async def test_invalid_list_requests_name_the_field(
    service: Any, request_fields: dict[str, Any], fields: list[str]
) -> None:
    error = await refused(
        service.stub.ListReferrals(service_pb2.ListReferralsRequest(**request_fields))
    )

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(error)] == fields


async def test_a_page_token_is_refused_with_other_filters(service: Any) -> None:
    for _ in range(4):
        await create(service.stub)
    first = await service.stub.ListReferrals(service_pb2.ListReferralsRequest(page_size=2))

    error = await refused(
        service.stub.ListReferrals(
            service_pb2.ListReferralsRequest(
                page_token=first.next_page_token, subject_member_id="member-synthetic-001"
            )
        )
    )

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
