"""Overdue detection and the worklist on real PostgreSQL and Kafka, over real sockets.

Referrals are created and changed through the real ReferralsService; the sweeper runs
with an injected clock set past the windows instead of waiting for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import pytest

from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge.referrals.v1 import referrals_worklist_pb2 as worklist_pb2
from peerbridge.referrals.v1 import referrals_worklist_pb2_grpc as worklist_grpc
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import Principal, Role, TokenVerifier
from peerbridge_platform.grpc import create_channel, field_violations, start_server
from peerbridge_referrals.adapters.audit_trail import SERVICE
from peerbridge_referrals.adapters.reason_cipher import ReasonCipher
from peerbridge_referrals.bootstrap import postgres_denials, postgres_units_of_work
from peerbridge_referrals.domain.overdue import DEFAULT_WINDOWS, OverdueWindows
from peerbridge_referrals.domain.values import Status
from peerbridge_referrals.entrypoints.app import ReferralsProcess
from peerbridge_referrals.entrypoints.interceptors import referrals_interceptors
from peerbridge_referrals.entrypoints.worklist_grpc import worklist_registration
from peerbridge_referrals.service_layer.pagination import PageLimits
from peerbridge_referrals.service_layer.worklist_handlers import (
    SweepSettings,
    WorklistApplication,
    sweep_overdue,
)

from ..conftest import CLINIC, PROGRAM, synthetic_principal
from .conftest import (
    AUDIENCE,
    ISSUER,
    RunningService,
    process_settings,
    read_topic,
    token_for,
    trusted_keys,
)
from .test_access import audit_rows
from .test_grpc_referrals import create, refused, synthetic_request
from .test_status_changes import update

pytestmark = pytest.mark.integration

OVERDUE_TYPE = "peerbridge.referrals.v1.ReferralOverdue"
EVENTS_TOPIC = "peerbridge.referrals.events.v1"
WINDOWS = OverdueWindows(DEFAULT_WINDOWS)
PROGRAM_COORDINATOR = synthetic_principal()
CLINIC_COORDINATOR = synthetic_principal("clinic-coordinator-test-1", (Role.COORDINATOR,), CLINIC)
CLINICIAN = synthetic_principal("clinician-test-1", (Role.CLINICIAN,), CLINIC)
SUPERVISOR = synthetic_principal("supervisor-test-1", (Role.SUPERVISOR,))
STAT = resources_pb2.REFERRAL_PRIORITY_STAT
ROUTINE = resources_pb2.REFERRAL_PRIORITY_ROUTINE


def later(**delta: float) -> Callable[[], datetime]:
    moment = datetime.now(UTC) + timedelta(**delta)
    return lambda: moment


async def sweep(pool: asyncpg.Pool, cipher: ReasonCipher, clock: Callable[[], datetime]) -> int:
    uow = postgres_units_of_work(pool, cipher)()
    return await sweep_overdue(uow, settings=SweepSettings(WINDOWS, batch_size=50), clock=clock)


async def overdue_events(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM outbox"
        " WHERE header_values[array_position(header_names, 'ce_type')] = convert_to($1, 'UTF8')",
        OVERDUE_TYPE,
    )
    return count


class Worklist:
    """The WorklistService on a socket of its own, over the referrals service's database."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._channels: list[grpc.aio.Channel] = []

    def as_(self, principal: Principal) -> Any:
        channel = create_channel(self._address, default_timeout_s=10)
        self._channels.append(channel)
        metadata = (("authorization", f"Bearer {token_for(principal)}"),)

        class _Stub:
            def __init__(self) -> None:
                self._stub = worklist_grpc.WorklistServiceStub(channel)

            def __getattr__(self, name: str) -> Any:
                method = getattr(self._stub, name)
                return lambda request: method(request, metadata=metadata)

        return _Stub()

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


@pytest.fixture
async def worklist(service: RunningService, cipher: ReasonCipher) -> AsyncIterator[Worklist]:
    pool = service.pool
    application = WorklistApplication(
        postgres_units_of_work(pool, cipher),
        postgres_denials(pool),
        lambda: datetime.now(UTC),
        PageLimits(default_size=3, max_size=5),
        timedelta(days=30),
    )
    server = await start_server(
        "127.0.0.1:0",
        [worklist_registration(application)],
        interceptors=referrals_interceptors(
            TokenVerifier(ISSUER, AUDIENCE, trusted_keys()), Auditor(SERVICE, pool=pool)
        ),
    )
    await server.set_serving()
    running = Worklist(server.address)
    try:
        yield running
    finally:
        await running.close()
        await server.stop(grace=1.0)


async def items_of(worklist: Worklist, principal: Principal, organization: str) -> list[Any]:
    response = await worklist.as_(principal).ListWorklist(
        worklist_pb2.ListWorklistRequest(organization_id=organization)
    )
    return list(response.items)


async def test_a_referral_past_its_window_raises_one_overdue_event(
    service: RunningService, cipher: ReasonCipher
) -> None:
    late = await create(service.stub, priority=STAT)
    await create(service.stub, priority=ROUTINE)

    assert await sweep(service.pool, cipher, later(minutes=59)) == 0
    assert await sweep(service.pool, cipher, later(hours=1, seconds=1)) == 1
    assert await sweep(service.pool, cipher, later(hours=1, seconds=2)) == 0
    assert await sweep(service.pool, cipher, later(hours=2)) == 0

    assert await overdue_events(service.pool) == 1
    row = await service.pool.fetchrow("SELECT * FROM referral_overdue")
    assert (str(row["referral_id"]), row["referral_version"], row["kind"]) == (
        late.referral_id,
        1,
        "acknowledge",
    )
    # The routine one comes due after three days, and once.
    assert await sweep(service.pool, cipher, later(days=3, seconds=1)) == 1
    assert await sweep(service.pool, cipher, later(days=4)) == 0
    assert await overdue_events(service.pool) == 2


async def test_two_sweepers_at_once_raise_each_referral_once(
    service: RunningService, cipher: ReasonCipher
) -> None:
    for _ in range(8):
        await create(service.stub, priority=STAT)
    clock = later(hours=2)

    raised = await asyncio.gather(*(sweep(service.pool, cipher, clock) for _ in range(3)))

    assert sum(raised) == 8
    assert await service.count("referral_overdue") == 8
    assert await overdue_events(service.pool) == 8


async def test_overdue_shows_on_both_sides_and_a_status_change_clears_it(
    service: RunningService, worklist: Worklist, cipher: ReasonCipher
) -> None:
    late = await create(service.stub, priority=STAT)
    assert await items_of(worklist, PROGRAM_COORDINATOR, PROGRAM) == []
    await sweep(service.pool, cipher, later(hours=1, seconds=1))

    (waiting,) = await items_of(worklist, PROGRAM_COORDINATOR, PROGRAM)
    (owed,) = await items_of(worklist, CLINIC_COORDINATOR, CLINIC)
    for item in (waiting, owed):
        assert item.referral_id == late.referral_id
        assert item.kind == worklist_pb2.WORKLIST_ITEM_KIND_OVERDUE
        assert item.overdue_kind == worklist_pb2.OVERDUE_KIND_ACKNOWLEDGE
        assert item.status == resources_pb2.REFERRAL_STATUS_REQUESTED
    assert (waiting.side, waiting.counterpart_organization_id) == (
        worklist_pb2.WORKLIST_SIDE_REQUESTER,
        CLINIC,
    )
    assert (owed.side, owed.counterpart_organization_id) == (
        worklist_pb2.WORKLIST_SIDE_RECIPIENT,
        PROGRAM,
    )

    await update(service.stub_as(token_for(CLINICIAN)), late.referral_id, Status.ACCEPTED)

    assert await items_of(worklist, PROGRAM_COORDINATOR, PROGRAM) == []
    assert await items_of(worklist, CLINIC_COORDINATOR, CLINIC) == []
    # Accepted, it has a window to act in: four hours for stat, from the acceptance.
    assert await sweep(service.pool, cipher, later(hours=3)) == 0
    assert await sweep(service.pool, cipher, later(hours=4, seconds=1)) == 1
    (act,) = await items_of(worklist, CLINIC_COORDINATOR, CLINIC)
    assert act.overdue_kind == worklist_pb2.OVERDUE_KIND_ACT
    assert act.status == resources_pb2.REFERRAL_STATUS_ACCEPTED


async def test_a_closed_loop_reaches_the_requester_until_marked_seen(
    service: RunningService, worklist: Worklist
) -> None:
    referral = await create(service.stub, priority=ROUTINE)
    clinic = service.stub_as(token_for(CLINICIAN))
    await update(clinic, referral.referral_id, Status.ACCEPTED)
    await update(clinic, referral.referral_id, Status.IN_PROGRESS)
    await update(clinic, referral.referral_id, Status.COMPLETED)

    (closed,) = await items_of(worklist, PROGRAM_COORDINATOR, PROGRAM)
    assert closed.kind == worklist_pb2.WORKLIST_ITEM_KIND_LOOP_CLOSED
    assert closed.status == resources_pb2.REFERRAL_STATUS_COMPLETED
    assert closed.side == worklist_pb2.WORKLIST_SIDE_REQUESTER
    assert await items_of(worklist, SUPERVISOR, PROGRAM) == [closed]
    # The clinic closed it: nothing to follow up on its side.
    assert await items_of(worklist, CLINIC_COORDINATOR, CLINIC) == []
    # The requester reads the outcome itself.
    fetched = await service.stub.GetReferral(
        service_pb2.GetReferralRequest(referral_id=referral.referral_id)
    )
    assert fetched.referral.outcome

    # The clinic cannot clear the program's item.
    mark = worklist_pb2.MarkWorklistItemSeenRequest(item_id=closed.item_id)
    error = await refused(worklist.as_(CLINIC_COORDINATOR).MarkWorklistItemSeen(mark))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    await worklist.as_(PROGRAM_COORDINATOR).MarkWorklistItemSeen(mark)
    await worklist.as_(PROGRAM_COORDINATOR).MarkWorklistItemSeen(mark)  # again: no change

    assert await items_of(worklist, PROGRAM_COORDINATOR, PROGRAM) == []
    assert await service.count("worklist_seen") == 1
    actions = [(r["action"], r["outcome"]) for r in await audit_rows(service)]
    assert ("worklist.mark_seen", "allowed") in actions
    assert ("worklist.mark_seen", "denied") in actions


async def test_others_get_an_empty_page_and_the_attempt_is_audited(
    service: RunningService, worklist: Worklist, cipher: ReasonCipher
) -> None:
    await create(service.stub, priority=STAT)
    await sweep(service.pool, cipher, later(hours=2))
    supporter = synthetic_principal("supporter-test-7", (Role.PEER_SUPPORTER,))

    assert await items_of(worklist, supporter, PROGRAM) == []
    assert await items_of(worklist, CLINIC_COORDINATOR, PROGRAM) == []
    assert await items_of(worklist, CLINICIAN, CLINIC) == []
    assert len(await items_of(worklist, PROGRAM_COORDINATOR, PROGRAM)) == 1

    rows = [r for r in await audit_rows(service) if r["action"] == "worklist.list"]
    assert [r["outcome"] for r in rows].count("denied") == 3
    assert [r["outcome"] for r in rows].count("allowed") == 1


async def test_bad_requests_name_the_field_and_change_nothing(
    service: RunningService, worklist: Worklist
) -> None:
    stub = worklist.as_(PROGRAM_COORDINATOR)
    error = await refused(
        stub.ListWorklist(worklist_pb2.ListWorklistRequest(organization_id="", page_size=-1))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in field_violations(error)} == {"organization_id", "page_size"}
    error = await refused(
        stub.ListWorklist(
            worklist_pb2.ListWorklistRequest(organization_id=PROGRAM, page_token="nonsense")
        )
    )
    assert {v.field for v in field_violations(error)} == {"page_token"}
    error = await refused(
        stub.MarkWorklistItemSeen(worklist_pb2.MarkWorklistItemSeenRequest(item_id="x"))
    )
    assert {v.field for v in field_violations(error)} == {"item_id"}
    assert await service.count("worklist_seen") == 0


async def test_pages_follow_each_other_oldest_first(
    service: RunningService, worklist: Worklist, cipher: ReasonCipher
) -> None:
    created = [await create(service.stub, priority=STAT) for _ in range(7)]
    await sweep(service.pool, cipher, later(hours=2))
    stub = worklist.as_(PROGRAM_COORDINATOR)

    seen: list[str] = []
    token = ""
    while True:
        page = await stub.ListWorklist(
            worklist_pb2.ListWorklistRequest(organization_id=PROGRAM, page_token=token)
        )
        assert len(page.items) <= 3
        seen += [item.referral_id for item in page.items]
        token = page.next_page_token
        if not token:
            break

    assert seen == [r.referral_id for r in created]


async def test_the_overdue_event_reaches_kafka_once(
    running: ReferralsProcess,
    database_url: str,
    kafka_bootstrap: str,
    cipher: ReasonCipher,
) -> None:
    assert running.server is not None
    async with create_channel(running.server.address, default_timeout_s=10) as channel:
        stub: Any = service_grpc.ReferralsServiceStub(channel)
        metadata = (("authorization", f"Bearer {token_for(PROGRAM_COORDINATOR)}"),)
        created = await stub.CreateReferral(synthetic_request(priority=STAT), metadata=metadata)
    referral_id = created.referral.referral_id
    async with contextlib.AsyncExitStack() as stack:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        stack.push_async_callback(pool.close)
        assert await sweep(pool, cipher, later(hours=1, seconds=1)) == 1
        assert await sweep(pool, cipher, later(hours=3)) == 0

    def overdue(records: list[Any]) -> list[Any]:
        return [r for r in records if dict(r.headers() or [])["ce_type"] == OVERDUE_TYPE.encode()]

    # Read until the event is there, then a while longer: a second one must not come.
    records = await asyncio.to_thread(
        read_topic, kafka_bootstrap, EVENTS_TOPIC, referral_id, lambda found: False, 8.0
    )
    (event,) = overdue(records)
    message = worklist_pb2.ReferralOverdue.FromString(event.value())
    assert message.referral_id == referral_id
    assert message.kind == worklist_pb2.OVERDUE_KIND_ACKNOWLEDGE
    assert message.priority == STAT
    assert message.requester_organization_id == PROGRAM
    assert message.recipient_organization_id == CLINIC
    assert message.version == 1
    assert message.due_time.ToDatetime(UTC) == created.referral.create_time.ToDatetime(
        UTC
    ) + timedelta(hours=1)


async def test_the_process_sweeps_by_itself(
    database_url: str, kafka_bootstrap: str, encryption_keys: str
) -> None:
    """The wiring: the real process, with a one-second window and a fast sweeper, raises
    the overdue state once without being asked (the only test here that waits)."""
    settings = process_settings(database_url, kafka_bootstrap, encryption_keys).model_copy(
        update={
            "overdue_stat_acknowledge": timedelta(seconds=1),
            "overdue_sweep_interval_s": 0.2,
        }
    )
    process = ReferralsProcess(settings, jwks_source=trusted_keys())
    await process.start()
    try:
        assert process.server is not None
        async with create_channel(process.server.address, default_timeout_s=10) as channel:
            stub: Any = service_grpc.ReferralsServiceStub(channel)
            metadata = (("authorization", f"Bearer {token_for(PROGRAM_COORDINATOR)}"),)
            await stub.CreateReferral(synthetic_request(priority=STAT), metadata=metadata)
        async with contextlib.AsyncExitStack() as stack:
            pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
            stack.push_async_callback(pool.close)
            for _ in range(100):
                if await overdue_events(pool):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # a few more sweeps: still one
            assert await overdue_events(pool) == 1
    finally:
        await process.stop()
