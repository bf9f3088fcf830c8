"""Integration events are written to the outbox in the referral's own transaction."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import grpc
import pytest
from asyncpg.pool import PoolConnectionProxy
from fhir.resources.R4B.bundle import Bundle

from peerbridge.referrals.v1 import referrals_events_pb2
from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge_platform.envelope import Envelope, decode, unpack_proto
from peerbridge_referrals.adapters.outbox_writer import write_to_outbox
from peerbridge_referrals.domain.events import DomainEvent

pytestmark = pytest.mark.integration

EVENTS_TOPIC = "peerbridge.referrals.events.v1"
FHIR_TOPIC = "peerbridge.referrals.fhir.v1"
AUDIT_TOPIC = "peerbridge.audit.v1"
REASON = "Asked for help starting buprenorphine after a peer session."


def synthetic_request() -> service_pb2.CreateReferralRequest:
    return service_pb2.CreateReferralRequest(
        request_id=str(uuid.uuid4()),
        subject_member_id="member-synthetic-002",
        direction=resources_pb2.REFERRAL_DIRECTION_PEER_SUPPORT_TO_CLINIC,
        category=resources_pb2.REFERRAL_CATEGORY_DETOX,
        priority=resources_pb2.REFERRAL_PRIORITY_ROUTINE,
        reason=REASON,
        requester=resources_pb2.Party(
            kind=resources_pb2.PARTY_KIND_PEER_SUPPORT_PROGRAM,
            organization_id="program-harbour-test",
            display_name="Harbour Peer Recovery (test)",
        ),
        recipient=resources_pb2.Party(
            kind=resources_pb2.PARTY_KIND_CLINIC,
            organization_id="clinic-northside-test",
            display_name="Northside Health Clinic (test)",
        ),
    )


async def outbox_envelopes(pool: asyncpg.Pool) -> dict[str, Envelope]:
    rows = await pool.fetch(
        "SELECT topic, message_key, header_names, header_values, payload FROM outbox ORDER BY id"
    )
    found: dict[str, Envelope] = {}
    for row in rows:
        headers = list(zip(row["header_names"], row["header_values"], strict=True))
        found[row["topic"]] = decode(headers, row["message_key"], row["payload"])
    referral_rows = [row for row in rows if row["topic"] != AUDIT_TOPIC]
    assert len(found) == len(referral_rows) + 1, "one row per referral topic expected"
    return found


async def test_a_created_referral_writes_its_event_and_fhir_view_to_the_outbox(
    service: Any,
) -> None:
    response = await service.stub.CreateReferral(synthetic_request())
    referral_id = response.referral.referral_id

    envelopes = await outbox_envelopes(service.pool)

    assert set(envelopes) == {EVENTS_TOPIC, FHIR_TOPIC, AUDIT_TOPIC}
    event, view = envelopes[EVENTS_TOPIC], envelopes[FHIR_TOPIC]
    for envelope in (event, view):
        assert envelope.subject == referral_id
        assert envelope.source == "/peerbridge/referrals"
        assert envelope.extensions["recipientorganization"] == "clinic-northside-test"
        assert REASON.encode() not in envelope.data
    message = unpack_proto(event, referrals_events_pb2.ReferralCreated)
    assert message.referral_id == referral_id
    assert message.category == resources_pb2.REFERRAL_CATEGORY_DETOX
    assert view.content_type.startswith("application/fhir+json")
    bundle: Any = Bundle.model_validate_json(view.data)
    task = next(e.resource for e in bundle.entry if e.resource.get_resource_type() == "Task")
    assert task.id == referral_id
    assert task.status == "requested"
    assert task.priority == "routine"


async def test_a_retry_adds_no_event_only_its_audit_record(service: Any) -> None:
    request = synthetic_request()
    await service.stub.CreateReferral(request)
    await service.stub.CreateReferral(request)

    assert await service.count_events() == 2
    # The create, its disclosure decision, the repeated create.
    assert await service.count("audit_log") == 3


async def _write_then_fail(connection: PoolConnectionProxy, event: DomainEvent) -> None:
    await write_to_outbox(connection, event)
    raise RuntimeError("the transaction fails after its outbox rows were written")


async def test_a_transaction_that_fails_late_leaves_neither_row_nor_event(
    serve_with: Any,
) -> None:
    async with serve_with(_write_then_fail) as failing:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await failing.stub.CreateReferral(synthetic_request())

        assert caught.value.code() is grpc.StatusCode.INTERNAL
        assert await failing.count("outbox") == 0
        assert await failing.count("referrals") == 0


async def test_the_fhir_view_is_compact_json(service: Any) -> None:
    await service.stub.CreateReferral(synthetic_request())
    view = (await outbox_envelopes(service.pool))[FHIR_TOPIC]

    assert json.loads(view.data)["resourceType"] == "Bundle"
