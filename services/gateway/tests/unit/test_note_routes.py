"""`/v1/referrals/{id}/notes` in process over the in-memory notes port: translation to and
from JSON, what the gateway refuses itself (422, scopes), problems from the service,
idempotent replay, and OpenAPI. Who reads which note is the referrals service's rule,
tested there and through the gateway in tests/integration/test_notes.py."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import httpx

from peerbridge.referrals.v1 import referrals_notes_pb2 as notes_pb2
from peerbridge.referrals.v1 import referrals_resources_pb2 as resources
from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_gateway.clients.in_memory_notes import InMemoryNotes
from peerbridge_gateway.clients.notes_grpc import note_from_proto
from peerbridge_gateway.clients.referrals import PartyKind
from peerbridge_platform.auth.scopes import REFERRALS_READ, REFERRALS_WRITE
from peerbridge_platform.errors import FieldViolation

from ..conftest import PROBLEM
from .conftest import Mint

REFERRAL = "00000000-0000-4000-9000-00000000a001"
NOTES = f"/v1/referrals/{REFERRAL}/notes"
TEXT = "Synthetic note: asked about evening appointments."


async def test_add_then_list_a_note(client: httpx.AsyncClient, notes: InMemoryNotes) -> None:
    added = await client.post(NOTES, json={"text": TEXT, "shared_with_member": True})

    assert added.status_code == 201, added.text
    note = added.json()
    assert added.headers["location"] == NOTES
    assert (note["text"], note["shared_with_member"], note["withheld"]) == (TEXT, True, False)
    assert note["withheld_reason"] is None
    listed = await client.get(NOTES, params={"limit": 1})
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [note], "next_cursor": None}
    assert [n.text for n in notes.notes[REFERRAL]] == [TEXT]


async def test_notes_page_with_a_cursor(client: httpx.AsyncClient) -> None:
    for n in range(3):
        assert (await client.post(NOTES, json={"text": f"Note {n}"})).status_code == 201
    first = await client.get(NOTES, params={"limit": 2})
    second = await client.get(NOTES, params={"limit": 2, "cursor": first.json()["next_cursor"]})
    texts = [n["text"] for n in first.json()["items"] + second.json()["items"]]
    assert texts == ["Note 2", "Note 1", "Note 0"]
    assert second.json()["next_cursor"] is None


async def test_bad_requests_are_refused_by_the_gateway(client: httpx.AsyncClient) -> None:
    no_text = await client.post(NOTES, json={})
    extra = await client.post(NOTES, json={"text": TEXT, "author_id": "someone-else"})
    bad_limit = await client.get(NOTES, params={"limit": 0})
    unknown = await client.get(NOTES, params={"member": "x"})
    assert [r.status_code for r in (no_text, extra, bad_limit, unknown)] == [422] * 4
    assert no_text.headers["content-type"] == PROBLEM


async def test_the_services_answers_become_problems(
    client: httpx.AsyncClient, notes: InMemoryNotes
) -> None:
    notes.failures = [
        ServiceError(
            "referrals",
            grpc.StatusCode.INVALID_ARGUMENT,
            "the note is not valid",
            [FieldViolation("text", "must be at most 8000 characters")],
        ),
        ServiceError("referrals", grpc.StatusCode.PERMISSION_DENIED, "members add no notes"),
        ServiceError("referrals", grpc.StatusCode.NOT_FOUND, "referral not found"),
    ]
    invalid = await client.post(NOTES, json={"text": TEXT})
    denied = await client.post(NOTES, json={"text": TEXT})
    missing = await client.get(NOTES)
    assert invalid.status_code == 400
    assert invalid.json()["errors"] == [
        {"field": "text", "detail": "must be at most 8000 characters"}
    ]
    # A refused note is never echoed back.
    assert TEXT not in invalid.text
    assert (denied.status_code, missing.status_code) == (403, 404)


async def test_a_retry_with_the_same_key_replays_the_note(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "note-retry-1"}
    first = await client.post(NOTES, json={"text": TEXT}, headers=key)
    again = await client.post(NOTES, json={"text": TEXT}, headers=key)
    other = await client.post(NOTES, json={"text": "Another note."}, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 409


async def test_adding_needs_write_and_reading_needs_read(
    anonymous: httpx.AsyncClient, mint: Mint
) -> None:
    reader = {"Authorization": f"Bearer {mint(scopes=[REFERRALS_READ])}"}
    writer = {"Authorization": f"Bearer {mint(scopes=[REFERRALS_WRITE])}"}
    assert (await anonymous.post(NOTES, json={"text": TEXT}, headers=reader)).status_code == 403
    assert (await anonymous.get(NOTES, headers=writer)).status_code == 403
    assert (await anonymous.get(NOTES)).status_code == 401


async def test_the_routes_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operations = document["paths"]["/v1/referrals/{referral_id}/notes"]
    assert set(operations) == {"get", "post"}
    assert "Idempotency-Key" in str(operations["post"]["parameters"])


def test_a_withheld_note_arrives_without_text_or_author() -> None:
    message = notes_pb2.ReferralNote(
        note_id="n-1",
        referral_id=REFERRAL,
        author_side=resources.PARTY_KIND_PEER_SUPPORT_PROGRAM,
        author_organization_id="program-test-harbour",
        withheld=True,
        withheld_reason="no active consent of the member covers it",
    )
    message.create_time.FromDatetime(datetime(2026, 3, 1, tzinfo=UTC))
    note = note_from_proto(message)
    assert note.withheld
    assert (note.text, note.author_id) == (None, None)
    assert note.author_side is PartyKind.PEER_SUPPORT_PROGRAM
