"""Notes use cases through the in-memory unit of work: who adds and reads, idempotency,
the consent gate with its disclosure log row, events and the audit trail."""

from __future__ import annotations

from uuid import uuid4

import pytest

from peerbridge_platform.auth import Principal, Role
from peerbridge_platform.auth.scopes import REFERRALS_READ
from peerbridge_platform.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from peerbridge_referrals.adapters.in_memory import (
    InMemoryDeniedAccessLog,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from peerbridge_referrals.domain.model import Referral, open_referral
from peerbridge_referrals.domain.notes import AddReferralNote, Note, ReferralNoteAdded
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.service_layer import notes_handlers
from peerbridge_referrals.service_layer.notes_handlers import (
    NOTE_ADD,
    NOTE_LIST,
    ListReferralNotes,
    NotePage,
)
from peerbridge_referrals.service_layer.pagination import PageLimits

from ..conftest import CLINIC, synthetic_create_command, synthetic_principal
from ..consent_builders import MEMBER, NOW, synthetic_consent

COORDINATOR = synthetic_principal()
CLINICIAN = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
OTHER_CLINICIAN = synthetic_principal("clinician-test-2", (Role.CLINICIAN,), "clinic-other-test")
THE_MEMBER = synthetic_principal(MEMBER, (Role.MEMBER,), None)
TEXT = "Synthetic note: member asked about evening appointments."


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def referral(store: InMemoryStore) -> Referral:
    details = validate_new_referral(synthetic_create_command())
    made, _ = open_referral(details, referral_id=uuid4(), request_id=None, now=NOW)
    store.referrals[made.referral_id] = made
    return made


async def add(
    store: InMemoryStore,
    referral: Referral,
    caller: Principal = COORDINATOR,
    text: str = TEXT,
    request_id: str = "",
    shared: bool = False,
) -> Note:
    return await notes_handlers.add_referral_note(
        AddReferralNote(request_id, str(referral.referral_id), text, shared),
        InMemoryUnitOfWork(store),
        caller=caller,
        denials=InMemoryDeniedAccessLog(store),
        clock=lambda: NOW,
        new_id=uuid4,
    )


async def listed(
    store: InMemoryStore, referral: Referral, caller: Principal, **fields: object
) -> NotePage:
    return await notes_handlers.list_referral_notes(
        ListReferralNotes(str(referral.referral_id), **fields),  # type: ignore[arg-type]
        InMemoryUnitOfWork(store),
        caller=caller,
        denials=InMemoryDeniedAccessLog(store),
        clock=lambda: NOW,
        limits=PageLimits(default_size=2, max_size=5),
    )


@pytest.mark.parametrize("caller", [COORDINATOR, CLINICIAN])
async def test_staff_of_either_side_add_a_note(
    store: InMemoryStore, referral: Referral, caller: Principal
) -> None:
    note = await add(store, referral, caller)
    assert store.notes == {note.note_id: note}
    assert store.published == [ReferralNoteAdded(note, MEMBER)]
    assert [(a.action, a.referral_id) for a in store.audited] == [
        (NOTE_ADD, str(referral.referral_id))
    ]
    assert all(TEXT not in (a.reason or "") for a in store.audited)


@pytest.mark.parametrize(
    ("caller", "refusal"),
    [
        (OTHER_CLINICIAN, NotFound),
        (THE_MEMBER, PermissionDenied),
        (synthetic_principal(scopes=frozenset({REFERRALS_READ})), PermissionDenied),
    ],
    ids=["another clinic", "the member", "no write scope"],
)
async def test_others_add_nothing_and_are_audited(
    store: InMemoryStore, referral: Referral, caller: Principal, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        await add(store, referral, caller)
    assert store.notes == {}
    assert store.published == []
    assert [a.action for a in store.denied] == [NOTE_ADD]


async def test_a_missing_referral_is_not_found(store: InMemoryStore, referral: Referral) -> None:
    store.referrals.clear()
    with pytest.raises(NotFound):
        await add(store, referral)
    assert [a.reason for a in store.denied] == ["no such referral"]


async def test_bad_input_changes_nothing(store: InMemoryStore, referral: Referral) -> None:
    with pytest.raises(InvalidArgument):
        await add(store, referral, text="  ")
    assert store.notes == {}
    assert store.published == []
    assert store.audited == []


async def test_a_retry_returns_the_same_note(store: InMemoryStore, referral: Referral) -> None:
    first = await add(store, referral, request_id="req-note-1")
    again = await add(store, referral, request_id="req-note-1")
    assert again == first
    assert len(store.notes) == 1
    assert len(store.published) == 1
    with pytest.raises(Conflict):
        await add(store, referral, text="Another synthetic note.", request_id="req-note-1")
    # Another caller's request id is another request.
    other = await add(store, referral, CLINICIAN, request_id="req-note-1")
    assert other.note_id != first.note_id


async def test_the_clinic_reads_the_programs_notes_withheld_then_under_consent(
    store: InMemoryStore, referral: Referral
) -> None:
    ours = await add(store, referral)
    page = await listed(store, referral, CLINICIAN)
    assert [v.note.note_id for v in page.notes] == [ours.note_id]
    assert page.notes[0].withheld
    assert store.disclosures == []

    consent = synthetic_consent(categories=("substance_use_treatment",))
    store.consents[consent.consent_id] = consent
    page = await listed(store, referral, CLINICIAN)
    assert not page.notes[0].withheld
    [entry] = store.disclosures
    assert entry.consent_id == str(consent.consent_id)
    assert entry.recipient_organization_id == CLINIC
    assert store.audited[-1].action == NOTE_LIST
    assert f"consent {consent.consent_id}" in (store.audited[-1].reason or "")


async def test_the_member_reads_shared_notes_and_others_get_not_found(
    store: InMemoryStore, referral: Referral
) -> None:
    await add(store, referral, shared=True)
    await add(store, referral)
    page = await listed(store, referral, THE_MEMBER)
    assert sorted(v.withheld for v in page.notes) == [False, True]
    with pytest.raises(NotFound):
        await listed(store, referral, OTHER_CLINICIAN)
    assert store.denied[-1].action == NOTE_LIST


async def test_notes_come_in_pages_newest_first(store: InMemoryStore, referral: Referral) -> None:
    added = [await add(store, referral) for _ in range(3)]
    first = await listed(store, referral, COORDINATOR)
    assert first.next_page_token
    second = await listed(store, referral, COORDINATOR, page_token=first.next_page_token)
    assert second.next_page_token == ""
    seen = [v.note.note_id for v in first.notes + second.notes]
    assert sorted(seen) == sorted(n.note_id for n in added)
    with pytest.raises(InvalidArgument):
        await listed(store, referral, COORDINATOR, page_size=-1)
