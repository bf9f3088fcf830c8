"""Revocation stops views not yet sent: the relay checks each consented FHIR view's consent
when it hands the view to Kafka, and sends the minimal view in its place when the consent
was revoked (or ran out) after the change committed. Real PostgreSQL, Kafka and gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import Role
from peerbridge_platform.kafka import ensure_topics
from peerbridge_platform.outbox import OutboxRelay
from peerbridge_referrals.adapters.audit_trail import SERVICE
from peerbridge_referrals.adapters.consent_guard import ConsentGuard, ViewGuard
from peerbridge_referrals.adapters.kafka_topics import topic_specs

from ..conftest import synthetic_principal
from ..consent_builders import MEMBER
from .conftest import RunningService, process_settings, read_topic
from .test_consent_gating import REASON, resources
from .test_consents import as_, terms
from .test_grpc_referrals import synthetic_request
from .test_status_changes import FHIR_TOPIC, PATIENCE_S

pytestmark = pytest.mark.integration


@pytest.fixture
async def relaying(
    database_url: str, kafka_bootstrap: str, encryption_keys: str, pool: asyncpg.Pool
) -> Callable[[], contextlib.AbstractAsyncContextManager[OutboxRelay]]:
    """Starts the referrals relay with its consent guard, as the process runs it."""
    settings = process_settings(database_url, kafka_bootstrap, encryption_keys)
    await ensure_topics(kafka_bootstrap, topic_specs(settings))

    @contextlib.asynccontextmanager
    async def relay_running() -> AsyncIterator[OutboxRelay]:
        relay = OutboxRelay(
            database_url,
            kafka_bootstrap,
            name="referrals-test",
            guard=ConsentGuard(Auditor(SERVICE, pool=pool)),
        )
        await relay.start()
        try:
            yield relay
        finally:
            await relay.stop()

    return relay_running


Relaying = Callable[[], contextlib.AbstractAsyncContextManager[OutboxRelay]]


def one_view(bootstrap: str, referral_id: str) -> dict[str, Any]:
    (record,) = read_topic(bootstrap, FHIR_TOPIC, referral_id, lambda f: len(f) >= 1, PATIENCE_S)
    return json.loads(record.value() or b"")


async def consented_referral(service: RunningService) -> tuple[str, str]:
    """A consent of the synthetic member, then a referral whose full view waits in the
    outbox (no relay runs yet); returns the consent and referral ids."""
    member = as_(service, synthetic_principal(MEMBER, (Role.MEMBER,), None))
    consent = (await member.RecordConsent(service_pb2.RecordConsentRequest(terms=terms()))).consent
    referral = (await service.stub.CreateReferral(synthetic_request())).referral
    return consent.consent_id, referral.referral_id


async def revoke(service: RunningService, consent_id: str) -> None:
    member = as_(service, synthetic_principal(MEMBER, (Role.MEMBER,), None))
    await member.RevokeConsent(service_pb2.RevokeConsentRequest(consent_id=consent_id))


async def log_of(pool: asyncpg.Pool, referral_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT withdrawn_at, withdrawn_reason FROM disclosure_log WHERE referral_id = $1",
        referral_id,
    )


async def accounting(service: RunningService) -> list[Any]:
    member = as_(service, synthetic_principal(MEMBER, (Role.MEMBER,), None))
    page = await member.ListDisclosures(
        service_pb2.ListDisclosuresRequest(subject_member_id=MEMBER)
    )
    return list(page.disclosures)


async def test_a_view_whose_consent_is_revoked_before_the_send_goes_minimal(
    service: RunningService, pool: asyncpg.Pool, relaying: Relaying, kafka_bootstrap: str
) -> None:
    consent_id, referral_id = await consented_referral(service)
    assert len(await accounting(service)) == 1  # decided full at the change
    await revoke(service, consent_id)

    async with relaying():
        view = await asyncio.to_thread(one_view, kafka_bootstrap, referral_id)

    shown = resources(view)
    assert set(shown) == {"Task", "ServiceRequest"}
    text = json.dumps(view)
    assert REASON not in text
    assert MEMBER not in text
    assert "opioid" not in text
    (entry,) = await log_of(pool, referral_id)
    assert entry["withdrawn_at"] is not None
    assert "revoked or expired" in entry["withdrawn_reason"]
    assert await accounting(service) == []  # nothing was disclosed
    audited = await pool.fetch(
        "SELECT outcome, reason FROM audit_log WHERE action = 'referral.disclose'"
        " AND resource_id = $1 ORDER BY occurred_at",
        referral_id,
    )
    assert [a["outcome"] for a in audited] == ["allowed", "denied"]
    assert consent_id in audited[-1]["reason"]


async def test_a_view_whose_consent_still_holds_goes_in_full(
    service: RunningService, pool: asyncpg.Pool, relaying: Relaying, kafka_bootstrap: str
) -> None:
    _, referral_id = await consented_referral(service)
    async with relaying():
        view = await asyncio.to_thread(one_view, kafka_bootstrap, referral_id)
    assert set(resources(view)) == {"Task", "ServiceRequest", "Consent"}
    assert REASON in json.dumps(view)
    (entry,) = await log_of(pool, referral_id)
    assert entry["withdrawn_at"] is None
    assert len(await accounting(service)) == 1


async def test_a_consent_that_ran_out_before_the_send_withholds_the_view(
    service: RunningService, pool: asyncpg.Pool, relaying: Relaying, kafka_bootstrap: str
) -> None:
    consent_id, referral_id = await consented_referral(service)
    # Time passes: the consent's period ends before the relay runs.
    await pool.execute(
        "UPDATE consents SET valid_from = now() - interval '2 days',"
        " expires_at = now() - interval '1 day' WHERE consent_id = $1",
        consent_id,
    )
    async with relaying():
        view = await asyncio.to_thread(one_view, kafka_bootstrap, referral_id)
    assert set(resources(view)) == {"Task", "ServiceRequest"}
    (entry,) = await log_of(pool, referral_id)
    assert entry["withdrawn_at"] is not None


async def test_a_revocation_waits_while_the_relay_holds_the_consent(
    service: RunningService, pool: asyncpg.Pool
) -> None:
    """The relay's check locks the consent until the view is handed over: a revocation
    cannot slip in between the check and the send."""
    consent_id, referral_id = await consented_referral(service)
    (guard_id,) = await pool.fetch("SELECT guard_id FROM outbox WHERE guard_id IS NOT NULL")
    assert ViewGuard.parse(guard_id["guard_id"]).referral_id.hex == referral_id.replace("-", "")
    guard = ConsentGuard(Auditor(SERVICE, pool=pool))
    async with pool.acquire() as relay, pool.acquire() as member, relay.transaction():
        assert await guard.holding(relay, [guard_id["guard_id"]]) == {guard_id["guard_id"]}
        async with member.transaction():
            await member.execute("SET LOCAL lock_timeout = '300ms'")
            with pytest.raises(asyncpg.LockNotAvailableError):
                await member.execute(
                    "UPDATE consents SET status = 'revoked', revoke_time = now(),"
                    " revoked_by = 'x' WHERE consent_id = $1",
                    consent_id,
                )
    # Once the relay's transaction ended, the revocation goes through.
    await revoke(service, consent_id)
    assert (
        await pool.fetchval("SELECT status FROM consents WHERE consent_id = $1", consent_id)
        == "revoked"
    )
