"""The consent gate, end to end in one process: what an EHR reads from the FHIR topic for a
consented and an unconsented referral, the disclosure log, the audit trail, and a
revocation taking effect on the next change."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from fhir.resources.R4B.bundle import Bundle

from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.auth import Principal, Role
from peerbridge_platform.grpc import create_channel, wait_for_serving
from peerbridge_referrals.adapters.fhir.referral_view import PART2_NOTICE
from peerbridge_referrals.domain.values import Status
from peerbridge_referrals.entrypoints.app import ReferralsProcess
from peerbridge_referrals.entrypoints.grpc_server import SERVICE_NAME

from ..conftest import CLINIC, synthetic_principal
from ..consent_builders import MEMBER
from .conftest import read_topic, token_for
from .test_consents import terms
from .test_grpc_referrals import synthetic_request
from .test_status_changes import FHIR_TOPIC, PATIENCE_S, PERFORMER, REQUESTER, update_request

pytestmark = pytest.mark.integration

UNCONSENTED_MEMBER = "member-synthetic-003"
REASON = "Asked for help starting buprenorphine after a peer session."


def auth(principal: Principal) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token_for(principal)}"),)


def views_of(bootstrap: str, referral_id: str, versions: int) -> list[dict[str, Any]]:
    """The FHIR views of one referral an EHR reads, each validated as an R4 Bundle."""
    records = read_topic(
        bootstrap, FHIR_TOPIC, referral_id, lambda found: len(found) >= versions, PATIENCE_S
    )
    for record in records:
        Bundle.model_validate_json(record.value() or b"")
    return [json.loads(record.value() or b"") for record in records]


def resources(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}


async def test_an_ehr_gets_the_full_view_only_under_consent(
    running: ReferralsProcess, kafka_bootstrap: str, database_url: str
) -> None:
    assert running.server is not None
    await wait_for_serving(running.server.address, SERVICE_NAME, timeout_s=PATIENCE_S)
    member = synthetic_principal(MEMBER, (Role.MEMBER,), None)
    async with create_channel(running.server.address, default_timeout_s=10) as channel:
        stub: Any = service_grpc.ReferralsServiceStub(channel)
        consent = (
            await stub.RecordConsent(
                service_pb2.RecordConsentRequest(terms=terms()), metadata=auth(member)
            )
        ).consent
        consented = (
            await stub.CreateReferral(synthetic_request(), metadata=auth(REQUESTER))
        ).referral
        unconsented = (
            await stub.CreateReferral(
                synthetic_request(subject_member_id=UNCONSENTED_MEMBER), metadata=auth(REQUESTER)
            )
        ).referral
        # The member revokes; the clinic's next change discloses nothing more.
        await stub.RevokeConsent(
            service_pb2.RevokeConsentRequest(consent_id=consent.consent_id), metadata=auth(member)
        )
        await stub.UpdateReferralStatus(
            update_request(consented.referral_id, Status.ACCEPTED), metadata=auth(PERFORMER)
        )

    full, after_revocation = await asyncio.to_thread(
        views_of, kafka_bootstrap, consented.referral_id, 2
    )
    (minimal,) = await asyncio.to_thread(views_of, kafka_bootstrap, unconsented.referral_id, 1)

    shown = resources(full)
    assert set(shown) == {"Task", "ServiceRequest", "Consent"}
    request, task = shown["ServiceRequest"], shown["Task"]
    consent_url = f"urn:uuid:{consent.consent_id}"
    assert request["supportingInfo"] == [{"reference": consent_url, "type": "Consent"}]
    assert consent_url in [e["fullUrl"] for e in full["entry"]]
    assert request["reasonCode"] == [{"text": REASON}]
    assert request["code"]["coding"][0]["code"] == "medication-for-opioid-use-disorder"
    assert task["note"] == [{"text": PART2_NOTICE}]
    assert task["for"]["identifier"]["value"] == MEMBER
    assert shown["Consent"]["category"][0]["coding"][0]["code"] == "IDSCL"
    assert shown["Consent"]["status"] == "active"

    for bundle in (minimal, after_revocation):
        held = resources(bundle)
        assert set(held) == {"Task", "ServiceRequest"}
        assert "for" not in held["Task"]
        assert held["Task"]["owner"]["identifier"]["value"] == CLINIC
        assert not {"code", "category", "reasonCode", "supportingInfo"} & set(
            held["ServiceRequest"]
        )
        text = json.dumps(bundle)
        assert REASON not in text
        assert MEMBER not in text
        assert UNCONSENTED_MEMBER not in text
        assert "opioid" not in text
    assert resources(after_revocation)["Task"]["status"] == "accepted"

    connection = await asyncpg.connect(database_url)
    try:
        log = await connection.fetch(
            "SELECT referral_id::text, referral_version, recipient_organization_id,"
            " consent_id::text, purpose, category FROM disclosure_log"
        )
        decisions = await connection.fetch(
            "SELECT resource_id, reason FROM audit_log WHERE action = 'referral.disclose'"
            " ORDER BY id"
        )
    finally:
        await connection.close()
    assert [tuple(row) for row in log] == [
        (consented.referral_id, 1, CLINIC, consent.consent_id, "TREAT", "referral_details")
    ]
    assert [(row["resource_id"], row["reason"].split(":")[0]) for row in decisions] == [
        (consented.referral_id, f"full view under consent {consent.consent_id}"),
        (unconsented.referral_id, "minimal view"),
        (consented.referral_id, "minimal view"),
    ]
