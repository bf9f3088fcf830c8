"""The member's accounting of disclosures over a real socket, real tokens and real
PostgreSQL: a consented referral leaves an entry the member lists; another member lists
nothing and the attempt is on record; pages cover the whole log."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge_platform.auth import Role
from peerbridge_platform.grpc import field_violations

from ..conftest import CLINIC, synthetic_principal
from ..consent_builders import MEMBER
from .conftest import RunningService
from .test_access import audit_rows
from .test_consents import COORDINATOR, OTHER_MEMBER, OTHER_PROGRAM, THE_MEMBER, as_, record
from .test_grpc_referrals import refused, synthetic_request
from .test_status_changes import REQUESTER

pytestmark = pytest.mark.integration

SUPERVISOR = synthetic_principal("supervisor-test-1", (Role.SUPERVISOR,))


async def disclose(service: RunningService, count: int = 1) -> list[str]:
    """The member consents, then the program refers them `count` times: each is disclosed."""
    await record(as_(service, THE_MEMBER))
    requester = as_(service, REQUESTER)
    made = []
    for _ in range(count):
        made.append((await requester.CreateReferral(synthetic_request())).referral.referral_id)
    return made


async def list_all(stub: Any, member: str = MEMBER, page_size: int = 0) -> list[Any]:
    found: list[Any] = []
    token = ""
    while True:
        page = await stub.ListDisclosures(
            service_pb2.ListDisclosuresRequest(
                subject_member_id=member, page_size=page_size, page_token=token
            )
        )
        found += page.disclosures
        token = page.next_page_token
        if not token:
            return found


async def test_the_member_lists_the_disclosure_of_a_consented_referral(
    service: RunningService,
) -> None:
    [referral_id] = await disclose(service)

    [entry] = await list_all(as_(service, THE_MEMBER))

    assert entry.referral_id == referral_id
    assert entry.recipient_organization_id == CLINIC
    assert (entry.purpose, entry.category) == ("TREAT", "referral_details")
    assert entry.description.startswith("Referral details")
    assert entry.disclosure_id
    assert entry.consent_id
    assert entry.disclosed_at.seconds > 0
    listed = [r for r in await audit_rows(service) if r["action"] == "disclosure.list"]
    assert [(r["outcome"], r["subject_id"], r["purpose_of_use"]) for r in listed] == [
        ("allowed", MEMBER, "PATRQT")
    ]


async def test_the_disclosing_programs_coordinator_lists_them_too(
    service: RunningService,
) -> None:
    await disclose(service)

    assert len(await list_all(as_(service, COORDINATOR))) == 1
    assert len(await list_all(as_(service, SUPERVISOR))) == 1
    assert await list_all(as_(service, OTHER_PROGRAM)) == []


async def test_another_member_lists_nothing_and_the_attempt_is_on_record(
    service: RunningService,
) -> None:
    await disclose(service)

    assert await list_all(as_(service, OTHER_MEMBER)) == []

    denied = [r for r in await audit_rows(service) if r["action"] == "disclosure.list"]
    assert [(r["outcome"], r["subject_id"], r["actor_subject_id"]) for r in denied] == [
        ("denied", MEMBER, OTHER_MEMBER.subject)
    ]


async def test_pages_cover_the_log_newest_first(service: RunningService) -> None:
    made = await disclose(service, count=4)
    member = as_(service, THE_MEMBER)

    first = await member.ListDisclosures(
        service_pb2.ListDisclosuresRequest(subject_member_id=MEMBER, page_size=3)
    )
    everything = await list_all(member, page_size=3)

    assert len(first.disclosures) == 3
    assert first.next_page_token
    assert [e.referral_id for e in everything] == list(reversed(made))


async def test_a_token_of_one_member_does_not_serve_another(service: RunningService) -> None:
    await disclose(service, count=2)
    coordinator = as_(service, COORDINATOR)
    first = await coordinator.ListDisclosures(
        service_pb2.ListDisclosuresRequest(subject_member_id=MEMBER, page_size=1)
    )

    error = await refused(
        coordinator.ListDisclosures(
            service_pb2.ListDisclosuresRequest(
                subject_member_id="member-synthetic-002", page_token=first.next_page_token
            )
        )
    )

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(error)] == ["page_token"]
