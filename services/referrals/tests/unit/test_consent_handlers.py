"""Consent use cases through the in-memory unit of work: who may record, revoke and read,
idempotency per caller, events and the audit trail each leaves."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from peerbridge_platform.auth import Principal, Role
from peerbridge_platform.auth.scopes import CONSENTS_WRITE, REFERRALS_READ
from peerbridge_platform.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from peerbridge_referrals.adapters.in_memory import (
    InMemoryDeniedAccessLog,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from peerbridge_referrals.domain.commands import RecordConsent, RevokeConsent
from peerbridge_referrals.domain.consent import Consent, ConsentStatus
from peerbridge_referrals.domain.events import ConsentGiven, ConsentRevoked
from peerbridge_referrals.service_layer import consent_handlers
from peerbridge_referrals.service_layer.audit import (
    CONSENT,
    CONSENT_READ,
    CONSENT_RECORD,
    CONSENT_REVOKE,
)
from peerbridge_referrals.service_layer.pagination import PageLimits
from peerbridge_referrals.service_layer.queries import GetConsent, ListConsents

from ..conftest import CLINIC, PROGRAM, synthetic_principal
from ..consent_builders import MEMBER, NOW, terms_input

THE_MEMBER = synthetic_principal(MEMBER, (Role.MEMBER,), None)
OTHER_MEMBER = synthetic_principal("member-synthetic-002", (Role.MEMBER,), None)
COORDINATOR = synthetic_principal()
SUPPORTER = synthetic_principal("supporter-test-7", (Role.PEER_SUPPORTER,))
SUPERVISOR = synthetic_principal("supervisor-test-1", (Role.SUPERVISOR,))
CLINICIAN = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
OTHER_CLINICIAN = synthetic_principal("clinician-test-2", (Role.CLINICIAN,), "clinic-other-test")
OTHER_COORDINATOR = synthetic_principal("coordinator-test-9", organization_id="program-other")
ADMIN = synthetic_principal("admin-test-1", (Role.ADMIN,), None)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


async def record(
    store: InMemoryStore, caller: Principal = THE_MEMBER, request_id: str = "", **changes: object
) -> Consent:
    return await consent_handlers.record_consent(
        RecordConsent(request_id, terms_input(**changes)),
        InMemoryUnitOfWork(store),
        caller=caller,
        denials=InMemoryDeniedAccessLog(store),
        clock=lambda: NOW,
        new_id=uuid4,
    )


async def revoke(
    store: InMemoryStore, consent: Consent, caller: Principal = THE_MEMBER, reason: str = ""
) -> Consent:
    return await consent_handlers.revoke_consent(
        RevokeConsent(str(consent.consent_id), reason),
        InMemoryUnitOfWork(store),
        caller=caller,
        denials=InMemoryDeniedAccessLog(store),
        clock=lambda: NOW,
    )


async def get(store: InMemoryStore, consent: Consent, caller: Principal) -> Consent:
    return await consent_handlers.get_consent(
        GetConsent(str(consent.consent_id)),
        InMemoryUnitOfWork(store),
        caller=caller,
        denials=InMemoryDeniedAccessLog(store),
    )


async def listed(store: InMemoryStore, caller: Principal, **fields: object) -> list[Consent]:
    page = await consent_handlers.list_consents(
        ListConsents(**{"subject_member_id": MEMBER, **fields}),  # type: ignore[arg-type]
        InMemoryUnitOfWork(store),
        caller=caller,
        denials=InMemoryDeniedAccessLog(store),
        limits=PageLimits(default_size=2, max_size=5),
    )
    return page.consents


@pytest.mark.parametrize("caller", [THE_MEMBER, COORDINATOR, SUPPORTER])
async def test_the_member_and_program_staff_record_a_consent(
    store: InMemoryStore, caller: Principal
) -> None:
    consent = await record(store, caller)
    assert consent.status is ConsentStatus.ACTIVE
    assert consent.recorded_by == caller.subject
    assert store.consents == {consent.consent_id: consent}
    assert store.published == [ConsentGiven(consent)]
    assert [(a.action, a.resource_type) for a in store.audited] == [(CONSENT_RECORD, CONSENT)]


@pytest.mark.parametrize("caller", [OTHER_MEMBER, CLINICIAN, SUPERVISOR, OTHER_COORDINATOR, ADMIN])
async def test_nobody_else_records_one(store: InMemoryStore, caller: Principal) -> None:
    with pytest.raises(PermissionDenied):
        await record(store, caller)
    assert store.consents == {}
    assert store.published == []
    assert [a.action for a in store.denied] == [CONSENT_RECORD]


async def test_a_bad_consent_writes_nothing(store: InMemoryStore) -> None:
    with pytest.raises(InvalidArgument):
        await record(store, purposes=())
    assert store.consents == {}
    assert store.denied == []
    assert store.commits == 0


async def test_changing_a_consent_needs_the_consent_scope(store: InMemoryStore) -> None:
    reader = replace(COORDINATOR, scopes=frozenset({REFERRALS_READ}))
    with pytest.raises(PermissionDenied):
        await record(store, reader)
    member_reading_only = replace(THE_MEMBER, scopes=frozenset({REFERRALS_READ}))
    with pytest.raises(PermissionDenied):
        await record(store, member_reading_only)
    # A member holds consents.write (ROLE_SCOPES), though not referrals.write.
    member = replace(THE_MEMBER, scopes=frozenset({REFERRALS_READ, CONSENTS_WRITE}))
    assert (await record(store, member)).status is ConsentStatus.ACTIVE


async def test_recording_is_idempotent_per_caller(store: InMemoryStore) -> None:
    first = await record(store, request_id="req-1")
    assert await record(store, request_id="req-1") == first
    with pytest.raises(Conflict):
        await record(store, request_id="req-1", purposes=("coc",))
    # Another caller's request id is another request.
    other = await record(store, COORDINATOR, request_id="req-1")
    assert other.consent_id != first.consent_id
    assert len(store.consents) == 2
    assert len(store.published) == 2


async def test_revoking_is_at_once_and_twice_is_fine(store: InMemoryStore) -> None:
    consent = await record(store)
    revoked = await revoke(store, consent, reason="Changed my mind")
    assert revoked.status is ConsentStatus.REVOKED
    assert revoked.revoke_time == NOW
    assert revoked.revocation_reason == "Changed my mind"
    again = await revoke(store, consent, COORDINATOR)
    assert again == revoked
    assert store.published == [ConsentGiven(consent), ConsentRevoked(revoked)]
    assert [a.reason for a in store.audited if a.action == CONSENT_REVOKE] == [
        None,
        "already revoked",
    ]


async def test_a_recipient_sees_but_may_not_revoke(store: InMemoryStore) -> None:
    consent = await record(store)
    with pytest.raises(PermissionDenied):
        await revoke(store, consent, CLINICIAN)
    with pytest.raises(NotFound):
        await revoke(store, consent, OTHER_CLINICIAN)
    assert store.consents[consent.consent_id].status is ConsentStatus.ACTIVE


@pytest.mark.parametrize("caller", [THE_MEMBER, COORDINATOR, SUPPORTER, SUPERVISOR, CLINICIAN])
async def test_who_reads_a_consent(store: InMemoryStore, caller: Principal) -> None:
    consent = await record(store)
    assert await get(store, consent, caller) == consent
    assert [c.consent_id for c in await listed(store, caller)] == [consent.consent_id]
    assert store.audited[-1].action == CONSENT_READ


@pytest.mark.parametrize("caller", [OTHER_MEMBER, OTHER_CLINICIAN, OTHER_COORDINATOR])
async def test_others_are_told_it_does_not_exist(store: InMemoryStore, caller: Principal) -> None:
    consent = await record(store)
    with pytest.raises(NotFound):
        await get(store, consent, caller)
    assert store.denied[-1].action == CONSENT_READ
    assert store.denied[-1].reason == "not visible to the caller"
    assert await listed(store, caller) == []


async def test_an_administrator_has_no_scope_for_consents(store: InMemoryStore) -> None:
    consent = await record(store)
    with pytest.raises(PermissionDenied):
        await get(store, consent, ADMIN)
    with pytest.raises(PermissionDenied):
        await listed(store, ADMIN)
    assert {a.reason for a in store.denied} == {"requires scope referrals.read"}


async def test_a_missing_consent_is_not_found_and_audited(store: InMemoryStore) -> None:
    ghost = await record(store)
    store.consents.clear()
    with pytest.raises(NotFound):
        await get(store, ghost, THE_MEMBER)
    assert store.denied[-1].reason == "no such consent"


async def test_listing_pages_newest_first(store: InMemoryStore) -> None:
    made = [await record(store, request_id=f"req-{n}") for n in range(3)]
    first = await consent_handlers.list_consents(
        ListConsents(MEMBER, page_size=2),
        InMemoryUnitOfWork(store),
        caller=THE_MEMBER,
        denials=InMemoryDeniedAccessLog(store),
        limits=PageLimits(),
    )
    second = await consent_handlers.list_consents(
        ListConsents(MEMBER, page_size=2, page_token=first.next_page_token),
        InMemoryUnitOfWork(store),
        caller=THE_MEMBER,
        denials=InMemoryDeniedAccessLog(store),
        limits=PageLimits(),
    )
    ordered = sorted(made, key=lambda c: (c.create_time, c.consent_id), reverse=True)
    assert first.consents + second.consents == ordered
    assert second.next_page_token == ""


async def test_a_member_asking_for_another_members_consents_is_audited(
    store: InMemoryStore,
) -> None:
    await record(store)
    assert await listed(store, OTHER_MEMBER) == []
    assert [(a.action, a.reason) for a in store.denied] == [
        (CONSENT_READ, "another member's consents")
    ]


async def test_listing_needs_a_member(store: InMemoryStore) -> None:
    with pytest.raises(InvalidArgument):
        await listed(store, THE_MEMBER, subject_member_id="")


async def test_the_program_is_the_disclosing_organization(store: InMemoryStore) -> None:
    consent = await record(store)
    assert consent.terms.disclosing_organization_id == PROGRAM
