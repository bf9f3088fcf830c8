"""Referral notes over a real socket with real signed tokens on real PostgreSQL: sealed at
rest and bound to their row, resealed after a key rotation, consent-gated for the clinic
with a disclosure log row, in the outbox without their text, and never in a log line."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest
from structlog.testing import capture_logs

from peerbridge.referrals.v1 import referrals_consent_pb2 as consent_pb2
from peerbridge.referrals.v1 import referrals_notes_pb2 as notes_pb2
from peerbridge.referrals.v1 import referrals_notes_pb2_grpc as notes_grpc
from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import Principal, Role, TokenVerifier
from peerbridge_platform.crypto import DecryptionFailed, Keyring, new_key_entry
from peerbridge_platform.envelope import decode, unpack_proto
from peerbridge_platform.grpc import GrpcServer, create_channel, field_violations, start_server
from peerbridge_referrals.adapters.audit_trail import SERVICE
from peerbridge_referrals.adapters.outbox_writer import write_to_outbox
from peerbridge_referrals.adapters.postgres_notes import PostgresNoteRepository, reseal_notes
from peerbridge_referrals.adapters.reason_cipher import ReasonCipher
from peerbridge_referrals.bootstrap import bootstrap, postgres_denials, postgres_units_of_work
from peerbridge_referrals.entrypoints.app import ReferralsProcess
from peerbridge_referrals.entrypoints.grpc_server import referrals_registration
from peerbridge_referrals.entrypoints.interceptors import referrals_interceptors
from peerbridge_referrals.entrypoints.notes_grpc import notes_registration
from peerbridge_referrals.service_layer.pagination import PageLimits

from ..conftest import CLINIC, synthetic_principal
from ..consent_builders import MEMBER
from .conftest import (
    AUDIENCE,
    CALL_TIMEOUT_S,
    ISSUER,
    _BearerToken,
    process_settings,
    token_for,
    trusted_keys,
)
from .test_consents import terms
from .test_grpc_referrals import refused
from .test_reason_encryption import synthetic_request, tables_holding

pytestmark = pytest.mark.integration

COORDINATOR = synthetic_principal()
CLINICIAN = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
OTHER_CLINICIAN = synthetic_principal("clinician-test-2", (Role.CLINICIAN,), "clinic-other-test")
THE_MEMBER = synthetic_principal(MEMBER, (Role.MEMBER,), None)
NOTE = "Synthetic note: talked about cravings in the evenings; agreed to call the clinic."
EVENTS_TOPIC = "peerbridge.referrals.events.v1"


class Platform:
    """The referrals server with its notes service, and stubs for any caller."""

    def __init__(self, server: GrpcServer, pool: asyncpg.Pool) -> None:
        self.server, self.pool = server, pool
        self._channels: list[grpc.aio.Channel] = []

    def _channel(self, principal: Principal) -> grpc.aio.Channel:
        channel = create_channel(
            self.server.address,
            default_timeout_s=CALL_TIMEOUT_S,
            interceptors=[_BearerToken(token_for(principal))],
        )
        self._channels.append(channel)
        return channel

    def referrals(self, principal: Principal = COORDINATOR) -> Any:
        return service_grpc.ReferralsServiceStub(self._channel(principal))

    def notes(self, principal: Principal = COORDINATOR) -> Any:
        return notes_grpc.ReferralNotesServiceStub(self._channel(principal))

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


@contextlib.asynccontextmanager
async def serving(pool: asyncpg.Pool, cipher: ReasonCipher) -> AsyncIterator[Platform]:
    application = bootstrap(
        postgres_units_of_work(pool, cipher, write_to_outbox),
        postgres_denials(pool),
        page_limits=PageLimits(default_size=3, max_size=5),
    )
    server = await start_server(
        "127.0.0.1:0",
        [referrals_registration(application), notes_registration(application)],
        interceptors=referrals_interceptors(
            TokenVerifier(ISSUER, AUDIENCE, trusted_keys()), Auditor(SERVICE, pool=pool)
        ),
    )
    platform = Platform(server, pool)
    try:
        await server.set_serving()
        yield platform
    finally:
        await platform.close()
        await server.stop(grace=1.0)


@pytest.fixture
async def platform(pool: asyncpg.Pool, cipher: ReasonCipher) -> AsyncIterator[Platform]:
    async with serving(pool, cipher) as running:
        yield running


async def a_referral(platform: Platform) -> str:
    request = synthetic_request("Synthetic reason (test).")
    request.subject_member_id = MEMBER
    referral_id: str = (await platform.referrals().CreateReferral(request)).referral.referral_id
    return referral_id


async def add(
    platform: Platform,
    referral_id: str,
    text: str = NOTE,
    caller: Principal = COORDINATOR,
    shared: bool = False,
    request_id: str = "",
) -> Any:
    request = notes_pb2.AddReferralNoteRequest(
        request_id=request_id, referral_id=referral_id, text=text, shared_with_member=shared
    )
    return (await platform.notes(caller).AddReferralNote(request)).note


async def listed(platform: Platform, referral_id: str, caller: Principal) -> list[Any]:
    request = notes_pb2.ListReferralNotesRequest(referral_id=referral_id)
    return list((await platform.notes(caller).ListReferralNotes(request)).notes)


async def test_a_note_is_stored_sealed_and_read_back(platform: Platform) -> None:
    referral_id = await a_referral(platform)
    note = await add(platform, referral_id, f"  {NOTE}\n", request_id="req-note-1")
    assert note.text == NOTE
    assert note.author_side == resources_pb2.PARTY_KIND_PEER_SUPPORT_PROGRAM

    # The column holds a sealed token, and no table (outbox, audit log...) holds the text.
    stored = bytes(await platform.pool.fetchval("SELECT text_ciphertext FROM referral_notes"))
    assert NOTE.encode() not in stored
    assert await tables_holding(platform.pool, NOTE) == []
    assert await tables_holding(platform.pool, "cravings") == []

    again = await add(platform, referral_id, NOTE, request_id="req-note-1")
    assert again.note_id == note.note_id
    [read] = await listed(platform, referral_id, COORDINATOR)
    assert (read.note_id, read.text, read.withheld) == (note.note_id, NOTE, False)


async def test_the_note_added_event_is_in_the_outbox_with_ids_only(platform: Platform) -> None:
    referral_id = await a_referral(platform)
    note = await add(platform, referral_id)
    rows = await platform.pool.fetch(
        "SELECT message_key, header_names, header_values, payload FROM outbox WHERE topic = $1",
        EVENTS_TOPIC,
    )
    envelopes = [
        decode(
            list(zip(r["header_names"], r["header_values"], strict=True)),
            r["message_key"],
            r["payload"],
        )
        for r in rows
    ]
    [envelope] = [e for e in envelopes if e.type == "peerbridge.referrals.v1.ReferralNoteAdded"]
    assert envelope.subject == referral_id
    event = unpack_proto(envelope, notes_pb2.ReferralNoteAdded)
    assert (event.note_id, event.referral_id, event.subject_member_id) == (
        note.note_id,
        referral_id,
        MEMBER,
    )
    assert all(NOTE.encode() not in bytes(row["payload"]) for row in rows)


async def test_the_clinic_gets_the_programs_note_only_under_consent(platform: Platform) -> None:
    referral_id = await a_referral(platform)
    ours = await add(platform, referral_id)
    theirs = await add(platform, referral_id, "Synthetic clinic note (test).", caller=CLINICIAN)

    by_id = {n.note_id: n for n in await listed(platform, referral_id, CLINICIAN)}
    assert by_id[ours.note_id].withheld
    assert by_id[ours.note_id].text == ""
    assert by_id[ours.note_id].author_id == ""
    assert "substance_use_treatment" in by_id[ours.note_id].withheld_reason
    assert by_id[theirs.note_id].text == "Synthetic clinic note (test)."
    # A consent to disclose referral details does not cover the notes.
    await platform.referrals().RecordConsent(service_pb2.RecordConsentRequest(terms=terms()))
    assert (await listed(platform, referral_id, CLINICIAN))[-1].withheld
    assert (
        await platform.pool.fetchval(
            "SELECT count(*) FROM disclosure_log WHERE category = 'substance_use_treatment'"
        )
        == 0
    )

    covering = terms(categories=[consent_pb2.CONSENT_INFORMATION_CATEGORY_SUBSTANCE_USE_TREATMENT])
    await platform.referrals().RecordConsent(service_pb2.RecordConsentRequest(terms=covering))
    by_id = {n.note_id: n for n in await listed(platform, referral_id, CLINICIAN)}
    assert by_id[ours.note_id].text == NOTE
    # Each read is a disclosure of its own, even at the same referral version.
    await listed(platform, referral_id, CLINICIAN)
    logged = await platform.pool.fetch(
        "SELECT recipient_organization_id, description, channel FROM disclosure_log "
        "WHERE category = 'substance_use_treatment'"
    )
    assert [(row["recipient_organization_id"], row["channel"]) for row in logged] == [
        (CLINIC, "api_read")
    ] * 2
    assert NOTE not in logged[0]["description"]
    # Another clinic does not even learn the referral exists.
    error = await refused(
        platform.notes(OTHER_CLINICIAN).ListReferralNotes(
            notes_pb2.ListReferralNotesRequest(referral_id=referral_id)
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_the_member_reads_what_was_shared_and_adds_nothing(platform: Platform) -> None:
    referral_id = await a_referral(platform)
    shared = await add(platform, referral_id, "Shared synthetic note (test).", shared=True)
    await add(platform, referral_id)
    by_id = {n.note_id: n for n in await listed(platform, referral_id, THE_MEMBER)}
    assert by_id[shared.note_id].text == "Shared synthetic note (test)."
    assert [n.withheld for n in by_id.values()].count(True) == 1
    error = await refused(add(platform, referral_id, caller=THE_MEMBER))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    audited = await platform.pool.fetch(
        "SELECT action, outcome, reason FROM audit_log WHERE action LIKE 'referral.note.%' "
        "ORDER BY id"
    )
    assert [(row["action"], row["outcome"]) for row in audited] == [
        ("referral.note.add", "allowed"),
        ("referral.note.add", "allowed"),
        ("referral.note.list", "allowed"),
        ("referral.note.add", "denied"),
    ]
    assert "1 withheld" in audited[2]["reason"]


async def test_bad_notes_are_refused_with_field_violations(platform: Platform) -> None:
    referral_id = await a_referral(platform)
    too_long = await refused(add(platform, referral_id, "x" * 8001))
    assert too_long.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(too_long)] == ["text"]
    missing = await refused(add(platform, str(uuid.uuid4())))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert await platform.pool.fetchval("SELECT count(*) FROM referral_notes") == 0


async def test_no_log_line_ever_holds_a_note(platform: Platform) -> None:
    referral_id = await a_referral(platform)
    secret = "Synthetic secret note 7f3a (test)"
    with capture_logs() as logs:
        await add(platform, referral_id, secret)
        await listed(platform, referral_id, COORDINATOR)
        await listed(platform, referral_id, CLINICIAN)
        await refused(add(platform, referral_id, secret + "x" * 8000))
        await refused(add(platform, referral_id, secret, caller=OTHER_CLINICIAN))
        await refused(add(platform, referral_id, secret, caller=THE_MEMBER))
        await refused(add(platform, "not-a-uuid", secret))
    assert logs, "the calls were expected to log something"
    assert not [entry for entry in logs if "7f3a" in repr(entry)]


# -- sealing: binding and rotation -------------------------------------------


async def test_a_sealed_note_does_not_open_on_another_note(
    platform: Platform, cipher: ReasonCipher
) -> None:
    referral_id = await a_referral(platform)
    first = await add(platform, referral_id, "First synthetic note.")
    second = await add(platform, referral_id, "Second synthetic note.")
    await platform.pool.execute(
        "UPDATE referral_notes SET text_ciphertext = "
        "(SELECT text_ciphertext FROM referral_notes WHERE note_id = $1) WHERE note_id = $2",
        uuid.UUID(first.note_id),
        uuid.UUID(second.note_id),
    )
    with pytest.raises(DecryptionFailed):
        await notes_of(platform.pool, cipher, referral_id)


async def notes_of(pool: asyncpg.Pool, cipher: ReasonCipher, referral_id: str) -> list[str]:
    async with pool.acquire() as connection:
        found = await PostgresNoteRepository(connection, cipher).list_for_referral(
            uuid.UUID(referral_id), after=None, limit=50
        )
    return sorted(note.text for note in found)


async def test_a_rotation_reseals_notes_and_old_ones_still_read(
    pool: asyncpg.Pool, encryption_keys: str
) -> None:
    old = ReasonCipher(Keyring.from_setting(encryption_keys))
    new_entry = new_key_entry("new")
    rotated = ReasonCipher(Keyring.from_setting(f"{new_entry},{encryption_keys}"))
    async with serving(pool, old) as platform:
        referral_id = await a_referral(platform)
        for n in range(3):
            await add(platform, referral_id, f"Synthetic note {n} (test).")
    expected = [f"Synthetic note {n} (test)." for n in range(3)]
    # Before the pass, the rotated keyring still reads notes under the old key.
    assert await notes_of(pool, rotated, referral_id) == expected

    report = await reseal_notes(pool, rotated, batch=2)

    assert report.resealed == 3
    assert not report.unreadable
    only_new = ReasonCipher(Keyring.from_setting(new_entry))
    assert await notes_of(pool, only_new, referral_id) == expected
    assert (await reseal_notes(pool, rotated)).resealed == 0


async def test_the_process_reseals_notes_under_a_retired_key_at_start_up(
    pool: asyncpg.Pool, database_url: str, kafka_bootstrap: str, encryption_keys: str
) -> None:
    async with serving(pool, ReasonCipher(Keyring.from_setting(encryption_keys))) as platform:
        referral_id = await a_referral(platform)
        for n in range(2):
            await add(platform, referral_id, f"Synthetic note {n} (test).")
    new_entry = new_key_entry("next")
    settings = process_settings(database_url, kafka_bootstrap, f"{new_entry},{encryption_keys}")
    process = ReferralsProcess(settings, jwks_source=trusted_keys())

    with capture_logs() as logs:
        await process.start()
        await process.stop()

    resealed = [e for e in logs if e["event"] == "referral notes resealed under the active key"]
    assert [e["count"] for e in resealed] == [2]
    prefix = Keyring.from_setting(new_entry).active_prefix
    stored = await pool.fetch("SELECT text_ciphertext FROM referral_notes")
    assert all(bytes(row["text_ciphertext"]).startswith(prefix) for row in stored)
    only_new = ReasonCipher(Keyring.from_setting(new_entry))
    assert await notes_of(pool, only_new, referral_id) == [
        "Synthetic note 0 (test).",
        "Synthetic note 1 (test).",
    ]
