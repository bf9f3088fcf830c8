"""The free-text reason is sealed at rest: no table holds it in plain text, rows written in
plain text before are sealed at start-up without loss, and a key rotation reseals them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge_platform.crypto import DecryptionFailed, Keyring, new_key_entry
from peerbridge_referrals.adapters.postgres_unit_of_work import PostgresUnitOfWork
from peerbridge_referrals.adapters.reason_cipher import ReasonCipher
from peerbridge_referrals.adapters.reason_sealing import reseal_reasons, upgrade_database
from peerbridge_referrals.adapters.schema import all_migrations, before_plain_reason_drop, migrate
from peerbridge_referrals.domain.events import ReferralStatusChanged
from peerbridge_referrals.domain.lifecycle import Actor, Side
from peerbridge_referrals.domain.model import open_referral
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import Status

from ..conftest import synthetic_create_command

pytestmark = pytest.mark.integration

REASON = "Synthetic member asks for help with cravings after a relapse (test)."
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def synthetic_request(reason: str = REASON) -> service_pb2.CreateReferralRequest:
    return service_pb2.CreateReferralRequest(
        request_id=str(uuid.uuid4()),
        subject_member_id="member-synthetic-003",
        direction=resources_pb2.REFERRAL_DIRECTION_PEER_SUPPORT_TO_CLINIC,
        category=resources_pb2.REFERRAL_CATEGORY_MEDICATION_FOR_OPIOID_USE_DISORDER,
        priority=resources_pb2.REFERRAL_PRIORITY_URGENT,
        reason=reason,
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


async def tables_holding(pool: asyncpg.Pool, text: str) -> list[str]:
    """Tables with a row that shows `text`, as text or as the hex of a bytea column."""
    tables = await pool.fetch(
        "SELECT quote_ident(table_name) AS name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    )
    holding = []
    for table in tables:
        found = await pool.fetchval(
            # Table names come from the catalogue, quoted by quote_ident.
            f"SELECT count(*) FROM {table['name']} t "
            "WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0",
            text,
            text.encode().hex(),
        )
        if found:
            holding.append(table["name"])
    return holding


async def test_no_table_holds_the_reason_in_plain_text(service: Any) -> None:
    created = (await service.stub.CreateReferral(synthetic_request())).referral

    assert created.reason == REASON
    assert await service.count("referrals") == 1
    assert await service.count("outbox") >= 1
    assert await tables_holding(service.pool, REASON) == []
    fetched = await service.stub.GetReferral(
        service_pb2.GetReferralRequest(referral_id=created.referral_id)
    )
    assert fetched.referral.reason == REASON


async def test_a_sealed_reason_does_not_open_on_another_referral(
    service: Any, pool: asyncpg.Pool, cipher: ReasonCipher
) -> None:
    first = (await service.stub.CreateReferral(synthetic_request("First (test)."))).referral
    second = (await service.stub.CreateReferral(synthetic_request("Second (test)."))).referral
    await pool.execute(
        "UPDATE referrals SET reason_ciphertext = "
        "(SELECT reason_ciphertext FROM referrals WHERE referral_id = $1) "
        "WHERE referral_id = $2",
        uuid.UUID(first.referral_id),
        uuid.UUID(second.referral_id),
    )

    assert await reason_of(pool, cipher, uuid.UUID(first.referral_id)) == "First (test)."
    with pytest.raises(DecryptionFailed):
        await reason_of(pool, cipher, uuid.UUID(second.referral_id))


# -- upgrading from plain text ------------------------------------------------


@pytest.fixture
async def plain_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a database as version 0001 left it: reasons in plain text."""
    first = [m for m in all_migrations() if m.component != "referrals" or m.version == 1]
    await migrate(database_url, first)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def insert_plain(pool: asyncpg.Pool, reason: str) -> uuid.UUID:
    referral_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO referrals (referral_id, request_id, subject_member_id, direction, "
        "category, priority, reason, requester_kind, requester_organization_id, "
        "requester_display_name, recipient_kind, recipient_organization_id, "
        "recipient_display_name, status, create_time, update_time, version) VALUES "
        "($1, NULL, 'member-synthetic-004', 'peer_support_to_clinic', 'detox', 'routine', $2, "
        "'peer_support_program', 'program-test', 'Test Program (test)', 'clinic', "
        "'clinic-test', 'Test Clinic (test)', 'requested', $3, $3, 1)",
        referral_id,
        reason,
        T0,
    )
    return referral_id


async def plain_column_exists(pool: asyncpg.Pool) -> bool:
    found: bool = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = 'referrals' AND column_name = 'reason')"
    )
    return found


async def test_plain_reasons_are_sealed_at_start_up_then_the_column_goes(
    plain_pool: asyncpg.Pool, database_url: str, cipher: ReasonCipher
) -> None:
    reasons = {await insert_plain(plain_pool, f"Plain reason {n} (test).") for n in range(3)}
    rows = await plain_pool.fetch("SELECT referral_id, reason FROM referrals")
    by_id: dict[uuid.UUID, str] = {row["referral_id"]: row["reason"] for row in rows}
    assert set(by_id) == reasons

    await upgrade_database(database_url, plain_pool, cipher)

    assert not await plain_column_exists(plain_pool)
    for referral_id, reason in by_id.items():
        assert await tables_holding(plain_pool, reason) == []
        assert await reason_of(plain_pool, cipher, referral_id) == reason
    # Idempotent: a second start finds nothing to do.
    await upgrade_database(database_url, plain_pool, cipher)


async def test_the_plain_column_stays_while_a_plain_reason_is_left(
    plain_pool: asyncpg.Pool, database_url: str
) -> None:
    await migrate(database_url, before_plain_reason_drop())
    referral_id = await insert_plain(plain_pool, "Written by an older replica (test).")

    with pytest.raises(asyncpg.RaiseError, match="plain-text reasons"):
        await migrate(database_url, all_migrations())

    assert await plain_column_exists(plain_pool)
    reason = await plain_pool.fetchval(
        "SELECT reason FROM referrals WHERE referral_id = $1", referral_id
    )
    assert reason == "Written by an older replica (test)."


# -- rotation -----------------------------------------------------------------


async def test_a_rotation_reseals_under_the_new_key_and_reports_lost_keys(
    pool: asyncpg.Pool, database_url: str
) -> None:
    old, new, lost = new_key_entry("old"), new_key_entry("new"), new_key_entry("lost")
    under_old = ReasonCipher(Keyring.from_setting(old))
    ids = [await _store(pool, under_old, f"Reason {n} (test).") for n in range(3)]
    orphan = await _store(pool, ReasonCipher(Keyring.from_setting(lost)), "Orphan (test).")
    rotated = ReasonCipher(Keyring.from_setting(f"{new},{old}"))

    report = await reseal_reasons(pool, rotated, batch=2)

    assert report.resealed == 3
    assert dict(report.unreadable) == {"lost": 1}
    only_new = ReasonCipher(Keyring.from_setting(new))
    for n, referral_id in enumerate(ids):
        assert await reason_of(pool, only_new, referral_id) == f"Reason {n} (test)."
    sealed = await pool.fetchval(
        "SELECT reason_ciphertext FROM referrals WHERE referral_id = $1", orphan
    )
    assert bytes(sealed).startswith(b"\x01\x04lost")
    assert (await reseal_reasons(pool, rotated)).resealed == 0
    await upgrade_database(database_url, pool, rotated)


async def test_a_rotation_reseals_status_reasons_and_outcomes_too(pool: asyncpg.Pool) -> None:
    old, new = new_key_entry("old"), new_key_entry("new")
    under_old = ReasonCipher(Keyring.from_setting(old))
    referral_id = await _store(pool, under_old, "Reason (test).")
    async with PostgresUnitOfWork(pool, under_old, _no_events) as uow:
        referral = await uow.referrals.get(referral_id)
        assert referral is not None
        done = replace(
            referral,
            status=Status.COMPLETED,
            outcome="Outcome (test).",
            status_reason="Status reason (test).",
            version=2,
        )
        actor = Actor("clinician-test-1", "clinic-northside-test", Side.PERFORMER)
        await uow.referrals.update_status(ReferralStatusChanged(done, referral.status, actor))
        await uow.commit()

    report = await reseal_reasons(pool, ReasonCipher(Keyring.from_setting(f"{new},{old}")))

    assert report.resealed == 3  # reason, status reason, outcome
    async with PostgresUnitOfWork(pool, ReasonCipher(Keyring.from_setting(new)), _no_events) as uow:
        assert await uow.referrals.get(referral_id) == done


async def _store(pool: asyncpg.Pool, cipher: ReasonCipher, reason: str) -> uuid.UUID:
    referral, _ = open_referral(
        validate_new_referral(synthetic_create_command(reason=reason)),
        referral_id=uuid.uuid4(),
        request_id=None,
        now=T0,
    )
    async with PostgresUnitOfWork(pool, cipher, _no_events) as uow:
        await uow.referrals.add(referral)
        await uow.commit()
    return referral.referral_id


async def _no_events(connection: object, event: object) -> None:
    """Storage only; the outbox has tests of its own."""


async def reason_of(pool: asyncpg.Pool, cipher: ReasonCipher, referral_id: uuid.UUID) -> str:
    """The reason as the repository reads it back."""
    async with PostgresUnitOfWork(pool, cipher, _no_events) as uow:
        referral = await uow.referrals.get(referral_id)
    assert referral is not None
    return referral.reason
