"""Crisis use cases through the in-memory unit of work: each route leaves its flag, its
events and its audit records in one commit; refusals change nothing and are audited."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from peerbridge_platform.auth import Principal, Role
from peerbridge_platform.errors import Conflict, NotFound, PermissionDenied
from peerbridge_referrals.adapters.in_memory import (
    InMemoryDeniedAccessLog,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from peerbridge_referrals.domain.crisis import (
    FlagDetails,
    FlagStatus,
    RiskFlag,
    RiskFlagAcknowledged,
    RiskFlagEscalated,
    RiskFlagSource,
    RiskKind,
    RiskLevel,
    Route,
)
from peerbridge_referrals.domain.events import ReferralCreated
from peerbridge_referrals.service_layer import crisis_handlers as handlers
from peerbridge_referrals.service_layer.pagination import PageLimits

from ..conftest import CLINIC, PROGRAM, synthetic_principal
from ..consent_builders import MEMBER, NOW, synthetic_consent

THE_MEMBER = synthetic_principal(MEMBER, (Role.MEMBER,), PROGRAM)
SUPPORTER = synthetic_principal("supporter-test-7", (Role.PEER_SUPPORTER,))
COORDINATOR = synthetic_principal()
SUPERVISOR = synthetic_principal("supervisor-test-1", (Role.SUPERVISOR,))
OTHER_COORDINATOR = synthetic_principal("coordinator-test-9", organization_id="program-other")
FLAG = FlagDetails(
    MEMBER, PROGRAM, RiskLevel.IMMINENT, RiskKind.OVERDOSE, RiskFlagSource.PEER_SUPPORTER
)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


def deps(store: InMemoryStore, caller: Principal) -> dict[str, object]:
    return {"caller": caller, "denials": InMemoryDeniedAccessLog(store), "clock": lambda: NOW}


async def raise_flag(
    store: InMemoryStore, caller: Principal = SUPPORTER, request_id: str = ""
) -> RiskFlag:
    return await handlers.raise_risk_flag(
        handlers.RaiseFlag(request_id, FLAG),
        InMemoryUnitOfWork(store),
        new_id=uuid4,
        **deps(store, caller),  # type: ignore[arg-type]
    )


async def set_contact(store: InMemoryStore, caller: Principal = THE_MEMBER) -> None:
    await handlers.set_clinical_contact(
        handlers.SetContact(MEMBER, PROGRAM, CLINIC, "Northside Health Clinic (test)"),
        InMemoryUnitOfWork(store),
        **deps(store, caller),  # type: ignore[arg-type]
    )


async def set_on_call(store: InMemoryStore) -> None:
    await handlers.set_on_call_supervisor(
        handlers.SetOnCall(PROGRAM, "supervisor-test-1", NOW, NOW + timedelta(hours=8)),
        InMemoryUnitOfWork(store),
        new_id=uuid4,
        **deps(store, COORDINATOR),  # type: ignore[arg-type]
    )


def consent_on_file(store: InMemoryStore) -> None:
    consent = synthetic_consent()
    store.consents[consent.consent_id] = consent


async def test_consented_contact_creates_the_crisis_referral_in_the_same_commit(
    store: InMemoryStore,
) -> None:
    await set_contact(store)
    consent_on_file(store)
    commits = store.commits
    flag = await raise_flag(store)
    assert flag.route is Route.CLINICAL_CONTACT
    assert store.commits == commits + 1
    assert flag.referral_id in store.referrals
    created = [e for e in store.published if isinstance(e, ReferralCreated)]
    assert created[-1].referral.referral_id == flag.referral_id
    assert created[-1].disclosure is not None
    assert created[-1].disclosure.full
    assert len(store.disclosures) == 1
    assert isinstance(store.published[-1], RiskFlagEscalated)
    actions = [a.action for a in store.audited]
    assert {"referral.create", "referral.disclose", "risk_flag.raise"} <= set(actions)


async def test_no_consent_goes_to_the_on_call_supervisor_and_nothing_leaves(
    store: InMemoryStore,
) -> None:
    await set_contact(store)
    await set_on_call(store)
    flag = await raise_flag(store)
    assert flag.route is Route.ON_CALL_SUPERVISOR
    assert flag.assigned_supervisor_id == "supervisor-test-1"
    assert store.referrals == {}
    assert not any(isinstance(e, ReferralCreated) for e in store.published)


async def test_no_route_is_never_dropped(store: InMemoryStore) -> None:
    flag = await raise_flag(store, THE_MEMBER)
    assert flag.route is Route.COORDINATORS
    assert store.crisis.flags[flag.flag_id].status is FlagStatus.UNHANDLED
    page = await handlers.list_risk_flags(
        handlers.ListFlags(PROGRAM, unhandled_only=True),
        InMemoryUnitOfWork(store),
        caller=COORDINATOR,
        denials=InMemoryDeniedAccessLog(store),
        limits=PageLimits(),
    )
    assert [f.flag_id for f in page.flags] == [flag.flag_id]


async def test_acknowledged_flags_leave_the_unhandled_list(store: InMemoryStore) -> None:
    flag = await raise_flag(store)
    handled = await handlers.acknowledge_risk_flag(
        str(flag.flag_id),
        InMemoryUnitOfWork(store),
        **deps(store, SUPERVISOR),  # type: ignore[arg-type]
    )
    assert handled.status is FlagStatus.ACKNOWLEDGED
    assert isinstance(store.published[-1], RiskFlagAcknowledged)
    again = await handlers.acknowledge_risk_flag(
        str(flag.flag_id),
        InMemoryUnitOfWork(store),
        **deps(store, COORDINATOR),  # type: ignore[arg-type]
    )
    assert again.acknowledged_by == SUPERVISOR.subject
    page = await handlers.list_risk_flags(
        handlers.ListFlags(PROGRAM, unhandled_only=True),
        InMemoryUnitOfWork(store),
        caller=COORDINATOR,
        denials=InMemoryDeniedAccessLog(store),
        limits=PageLimits(),
    )
    assert page.flags == []


async def test_another_program_sees_nothing_and_is_audited(store: InMemoryStore) -> None:
    flag = await raise_flag(store)
    with pytest.raises(NotFound):
        await handlers.acknowledge_risk_flag(
            str(flag.flag_id),
            InMemoryUnitOfWork(store),
            **deps(store, OTHER_COORDINATOR),  # type: ignore[arg-type]
        )
    page = await handlers.list_risk_flags(
        handlers.ListFlags(PROGRAM),
        InMemoryUnitOfWork(store),
        caller=OTHER_COORDINATOR,
        denials=InMemoryDeniedAccessLog(store),
        limits=PageLimits(),
    )
    assert page.flags == []
    assert store.crisis.flags[flag.flag_id].status is FlagStatus.UNHANDLED
    assert [d.action for d in store.denied] == ["risk_flag.acknowledge", "risk_flag.list"]


async def test_a_refused_raise_changes_nothing(store: InMemoryStore) -> None:
    other_member = synthetic_principal("member-synthetic-002", (Role.MEMBER,), PROGRAM)
    with pytest.raises(PermissionDenied):
        await raise_flag(store, other_member)
    assert store.crisis.flags == {}
    assert store.published == []
    assert store.denied[-1].action == "risk_flag.raise"


async def test_a_repeated_request_returns_the_first_flag(store: InMemoryStore) -> None:
    first = await raise_flag(store, request_id="req-1")
    again = await raise_flag(store, request_id="req-1")
    assert again == first
    assert len(store.crisis.flags) == 1
    with pytest.raises(Conflict):
        await handlers.raise_risk_flag(
            handlers.RaiseFlag(
                "req-1",
                FlagDetails(
                    MEMBER, PROGRAM, RiskLevel.ELEVATED, RiskKind.OTHER, RiskFlagSource.CHECK_IN
                ),
            ),
            InMemoryUnitOfWork(store),
            new_id=uuid4,
            **deps(store, SUPPORTER),  # type: ignore[arg-type]
        )


async def test_only_coordinators_name_the_on_call_supervisor(store: InMemoryStore) -> None:
    with pytest.raises(PermissionDenied):
        await handlers.set_on_call_supervisor(
            handlers.SetOnCall(PROGRAM, "supervisor-test-1", NOW, NOW + timedelta(hours=1)),
            InMemoryUnitOfWork(store),
            new_id=uuid4,
            **deps(store, SUPPORTER),  # type: ignore[arg-type]
        )
    await set_on_call(store)
    shift = await handlers.get_on_call(
        PROGRAM,
        None,
        InMemoryUnitOfWork(store),
        **deps(store, SUPERVISOR),  # type: ignore[arg-type]
    )
    assert shift.supervisor_id == "supervisor-test-1"


async def test_a_contact_is_read_by_the_member_and_the_program_only(store: InMemoryStore) -> None:
    await set_contact(store, SUPPORTER)
    for caller in (THE_MEMBER, COORDINATOR):
        contact = await handlers.get_clinical_contact(
            MEMBER,
            PROGRAM,
            InMemoryUnitOfWork(store),
            caller=caller,
            denials=InMemoryDeniedAccessLog(store),
        )
        assert contact.organization_id == CLINIC
    with pytest.raises(NotFound):
        await handlers.get_clinical_contact(
            MEMBER,
            PROGRAM,
            InMemoryUnitOfWork(store),
            caller=OTHER_COORDINATOR,
            denials=InMemoryDeniedAccessLog(store),
        )
    with pytest.raises(PermissionDenied):
        await set_contact(store, OTHER_COORDINATOR)
