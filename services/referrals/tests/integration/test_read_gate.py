"""The consent gate on reads and on the FHIR view, over a real socket, real tokens and real
PostgreSQL: the recipient's clinician reads a program's referral whole only under a consent
covering recipient, purpose and data (logged as a disclosure), redacted with why otherwise
(no consent, expired, wrong recipient, wrong purpose, revoked); the requesting side reads it
whole; each decision is audited as referral.disclose."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from peerbridge.referrals.v1 import referrals_consent_pb2 as consent_pb2
from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.grpc import create_channel, wait_for_serving
from peerbridge_referrals.entrypoints.app import ReferralsProcess
from peerbridge_referrals.entrypoints.grpc_server import SERVICE_NAME

from ..consent_builders import MEMBER
from .conftest import RunningService
from .test_access import audit_rows
from .test_consent_gating import auth, resources, views_of
from .test_consents import CLINICIAN, COORDINATOR, THE_MEMBER, as_, record, stamp, terms
from .test_grpc_referrals import synthetic_request
from .test_status_changes import PATIENCE_S

pytestmark = pytest.mark.integration

REASON = synthetic_request().reason


async def refer(service: RunningService, **changes: Any) -> str:
    request = synthetic_request(**changes)
    created = await as_(service, COORDINATOR).CreateReferral(request)
    return str(created.referral.referral_id)


async def read(service: RunningService, referral_id: str) -> Any:
    request = service_pb2.GetReferralRequest(referral_id=referral_id)
    return await as_(service, CLINICIAN).GetReferral(request)


async def log_rows(service: RunningService, referral_id: str) -> list[tuple[str, str, str]]:
    rows = await service.pool.fetch(
        "SELECT channel, purpose, description FROM disclosure_log"
        " WHERE referral_id = $1::uuid ORDER BY disclosure_id",
        referral_id,
    )
    return [(r["channel"], r["purpose"], r["description"]) for r in rows]


async def disclose_audits(service: RunningService, referral_id: str) -> list[str]:
    rows = await audit_rows(service)
    return [
        r["reason"]
        for r in rows
        if r["action"] == "referral.disclose" and r["resource_id"] == referral_id
    ]


async def test_under_consent_the_recipient_reads_it_whole_and_it_is_logged(
    service: RunningService,
) -> None:
    await record(as_(service, THE_MEMBER))
    referral_id = await refer(service)

    answer = await read(service, referral_id)

    assert answer.disclosure.view == service_pb2.READ_VIEW_FULL
    assert "consent" in answer.disclosure.reason
    assert answer.referral.reason == REASON
    assert answer.referral.subject_member_id == MEMBER
    channels = [(c, p) for c, p, _ in await log_rows(service, referral_id)]
    assert channels == [("fhir_view", "TREAT"), ("api_read", "TREAT")]
    [*_, description] = (await log_rows(service, referral_id))[-1]
    assert description.startswith("Referral details read through the API")
    audits = await disclose_audits(service, referral_id)
    assert audits[-1].startswith("read by the recipient, full")


def _expiring_soon() -> consent_pb2.ConsentTerms:
    now = datetime.now(UTC)
    return terms(expires_at=stamp(now + timedelta(seconds=2)))


CASES = {
    "no consent": None,
    "wrong recipient": terms(recipient_organization_ids=["clinic-other-test"]),
    "wrong purpose": terms(purposes=[consent_pb2.CONSENT_PURPOSE_CAREMGT]),
    "wrong data": terms(categories=[consent_pb2.CONSENT_INFORMATION_CATEGORY_CONTACT_DETAILS]),
}


@pytest.mark.parametrize("given", list(CASES.values()), ids=list(CASES))
async def test_without_a_covering_consent_both_views_are_withheld(
    service: RunningService, given: consent_pb2.ConsentTerms | None
) -> None:
    if given is not None:
        await record(as_(service, THE_MEMBER), given=given)
    referral_id = await refer(service)

    answer = await read(service, referral_id)

    _assert_redacted(answer)
    # Neither the FHIR view nor the read disclosed anything: nothing in the log.
    assert await log_rows(service, referral_id) == []
    audits = await disclose_audits(service, referral_id)
    assert audits[0].startswith("minimal view: no active consent")
    assert audits[-1].startswith("read by the recipient, redacted: no active consent")


async def test_an_expired_consent_opened_the_fhir_view_but_not_a_later_read(
    service: RunningService,
) -> None:
    await record(as_(service, THE_MEMBER), given=_expiring_soon())
    referral_id = await refer(service)
    await asyncio.sleep(2.5)

    answer = await read(service, referral_id)

    _assert_redacted(answer)
    assert [c for c, _, _ in await log_rows(service, referral_id)] == ["fhir_view"]


async def test_a_revoked_consent_stops_the_next_read(service: RunningService) -> None:
    consent = await record(as_(service, THE_MEMBER))
    referral_id = await refer(service)
    assert (await read(service, referral_id)).disclosure.view == service_pb2.READ_VIEW_FULL
    revoke = service_pb2.RevokeConsentRequest(consent_id=consent.consent_id)
    await as_(service, THE_MEMBER).RevokeConsent(revoke)

    _assert_redacted(await read(service, referral_id))


async def test_a_housing_referral_needs_a_care_management_consent(
    service: RunningService,
) -> None:
    await record(as_(service, THE_MEMBER))  # treatment only
    housing = resources_pb2.REFERRAL_CATEGORY_HOUSING
    referral_id = await refer(service, category=housing)
    _assert_redacted(await read(service, referral_id))

    await record(
        as_(service, THE_MEMBER), given=terms(purposes=[consent_pb2.CONSENT_PURPOSE_CAREMGT])
    )
    answer = await read(service, referral_id)
    assert answer.disclosure.view == service_pb2.READ_VIEW_FULL
    assert [(c, p) for c, p, _ in await log_rows(service, referral_id)] == [("api_read", "CAREMGT")]


async def test_the_requesting_side_and_the_member_read_it_whole_without_consent(
    service: RunningService,
) -> None:
    referral_id = await refer(service)
    request = service_pb2.GetReferralRequest(referral_id=referral_id)
    for caller in (COORDINATOR, THE_MEMBER):
        answer = await as_(service, caller).GetReferral(request)
        assert answer.referral.reason == REASON
        assert (answer.disclosure.view, answer.disclosure.reason) == (
            service_pb2.READ_VIEW_FULL,
            "",
        )


async def test_the_list_redacts_per_referral_and_says_why(service: RunningService) -> None:
    await record(as_(service, THE_MEMBER))
    consented = await refer(service)
    unconsented = await refer(service, subject_member_id="member-synthetic-003")

    page = await as_(service, CLINICIAN).ListReferrals(service_pb2.ListReferralsRequest())

    views = {
        r.referral_id: (d.view, r.reason)
        for r, d in zip(page.referrals, page.disclosures, strict=True)
    }
    assert views[consented] == (service_pb2.READ_VIEW_FULL, REASON)
    assert views[unconsented] == (service_pb2.READ_VIEW_REDACTED, "")


def _assert_redacted(answer: Any) -> None:
    referral = answer.referral
    assert answer.disclosure.view == service_pb2.READ_VIEW_REDACTED
    assert answer.disclosure.reason.startswith("no active consent")
    assert (referral.subject_member_id, referral.reason, referral.outcome) == ("", "", "")
    assert referral.category == resources_pb2.REFERRAL_CATEGORY_UNSPECIFIED
    assert referral.requester.practitioner_id == ""
    assert referral.recipient.organization_id
    assert referral.status == resources_pb2.REFERRAL_STATUS_REQUESTED


# -- the FHIR view an EHR reads from Kafka, for the same rules -------------------------------

FHIR_CASES = {
    "no consent": None,
    "wrong recipient": terms(recipient_organization_ids=["clinic-other-test"]),
    "wrong purpose": terms(purposes=[consent_pb2.CONSENT_PURPOSE_HPAYMT]),
    "expired": "expiring",
}


@pytest.mark.parametrize("given", list(FHIR_CASES.values()), ids=list(FHIR_CASES))
async def test_the_ehr_reads_a_minimal_view_without_a_covering_consent(
    running: ReferralsProcess, kafka_bootstrap: str, given: Any
) -> None:
    assert running.server is not None
    await wait_for_serving(running.server.address, SERVICE_NAME, timeout_s=PATIENCE_S)
    async with create_channel(running.server.address, default_timeout_s=10) as channel:
        stub: Any = service_grpc.ReferralsServiceStub(channel)
        if given is not None:
            consent_terms = _expiring_soon() if given == "expiring" else given
            request = service_pb2.RecordConsentRequest(terms=consent_terms)
            await stub.RecordConsent(request, metadata=auth(THE_MEMBER))
        if given == "expiring":
            await asyncio.sleep(2.5)
        created = await stub.CreateReferral(synthetic_request(), metadata=auth(COORDINATOR))
        referral_id = created.referral.referral_id
        answer = await stub.GetReferral(
            service_pb2.GetReferralRequest(referral_id=referral_id), metadata=auth(CLINICIAN)
        )

    (view,) = await asyncio.to_thread(views_of, kafka_bootstrap, referral_id, 1)
    held = resources(view)
    assert set(held) == {"Task", "ServiceRequest"}
    assert not {"code", "category", "reasonCode", "supportingInfo"} & set(held["ServiceRequest"])
    assert REASON not in json.dumps(view)
    assert MEMBER not in json.dumps(view)
    _assert_redacted(answer)
