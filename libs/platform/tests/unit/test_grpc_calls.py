"""The gRPC bootstrap over real sockets: a real grpc.aio server on 127.0.0.1, real clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry import trace
from structlog.testing import capture_logs

from peerbridge.referrals.v1 import (
    referrals_resources_pb2,
    referrals_service_pb2,
    referrals_service_pb2_grpc,
)
from peerbridge_platform import errors, tracing
from peerbridge_platform.grpc import (
    Caller,
    GrpcServer,
    ServiceRegistration,
    call_context,
    create_channel,
    current_caller,
    current_request_id,
    field_violations,
    start_server,
    wait_for_serving,
)

from .access_log import access_log_line

SERVICE_NAME = referrals_service_pb2.DESCRIPTOR.services_by_name["ReferralsService"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
Stub = referrals_service_pb2_grpc.ReferralsServiceStub
# Generous: only a failure ever waits this long.
PATIENCE_S = 5.0


class ScriptedReferrals(referrals_service_pb2_grpc.ReferralsServiceServicer):
    """Raises the error it is given, records each call's context, and has one slow method."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.seen: list[tuple[str | None, Caller | None, str | None]] = []
        self.slow_call_entered = asyncio.Event()
        self.release_slow_call = asyncio.Event()

    async def CreateReferral(
        self, request: referrals_service_pb2.CreateReferralRequest, context: object
    ) -> referrals_service_pb2.CreateReferralResponse:
        if self.error is not None:
            raise self.error
        referral = referrals_resources_pb2.Referral(
            referral_id="r-new", subject_member_id=request.subject_member_id, version=1
        )
        return referrals_service_pb2.CreateReferralResponse(referral=referral)

    async def GetReferral(
        self, request: referrals_service_pb2.GetReferralRequest, context: object
    ) -> referrals_service_pb2.GetReferralResponse:
        if self.error is not None:
            raise self.error
        self.seen.append((current_request_id(), current_caller(), tracing.current_trace_id()))
        referral = referrals_resources_pb2.Referral(referral_id=request.referral_id, version=1)
        return referrals_service_pb2.GetReferralResponse(referral=referral)

    async def ListReferrals(
        self, request: referrals_service_pb2.ListReferralsRequest, context: object
    ) -> referrals_service_pb2.ListReferralsResponse:
        self.slow_call_entered.set()
        await self.release_slow_call.wait()
        return referrals_service_pb2.ListReferralsResponse(next_page_token="done")


async def serve(servicer: ScriptedReferrals) -> GrpcServer:
    def add(server: grpc.aio.Server) -> None:
        referrals_service_pb2_grpc.add_ReferralsServiceServicer_to_server(servicer, server)

    return await start_server("127.0.0.1:0", [ServiceRegistration(SERVICE_NAME, add)])


@pytest.fixture
def servicer() -> ScriptedReferrals:
    return ScriptedReferrals()


@pytest.fixture
async def server(servicer: ScriptedReferrals) -> AsyncIterator[GrpcServer]:
    running = await serve(servicer)
    await running.set_serving()
    yield running
    await running.stop(0)


@pytest.fixture
async def stub(server: GrpcServer) -> AsyncIterator[Stub]:
    async with create_channel(server.address, default_timeout_s=PATIENCE_S) as channel:
        yield Stub(channel)


def get(referral_id: str = "r-1") -> referrals_service_pb2.GetReferralRequest:
    return referrals_service_pb2.GetReferralRequest(referral_id=referral_id)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            errors.InvalidArgument(
                "invalid referral",
                [
                    errors.FieldViolation("priority", "must be set"),
                    errors.FieldViolation("recipient.organization_id", "must not be empty"),
                ],
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (errors.NotFound("no such referral"), grpc.StatusCode.NOT_FOUND),
        (errors.AlreadyExists("referral exists"), grpc.StatusCode.ALREADY_EXISTS),
        (errors.FailedPrecondition("referral closed"), grpc.StatusCode.FAILED_PRECONDITION),
        (errors.PermissionDenied("not your referral"), grpc.StatusCode.PERMISSION_DENIED),
        (errors.Unauthenticated("no credentials"), grpc.StatusCode.UNAUTHENTICATED),
        (errors.Conflict("request id reused"), grpc.StatusCode.ABORTED),
        (errors.ResourceExhausted("slow down", 7), grpc.StatusCode.RESOURCE_EXHAUSTED),
    ],
)
async def test_domain_errors_become_canonical_codes(
    stub: Stub,
    servicer: ScriptedReferrals,
    error: errors.DomainError,
    code: grpc.StatusCode,
) -> None:
    servicer.error = error
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateReferral(
            referrals_service_pb2.CreateReferralRequest(request_id="q-1", subject_member_id="m-1")
        )
    assert caught.value.code() == code
    assert caught.value.details() == error.message
    assert field_violations(caught.value) == error.violations


async def test_too_many_attempts_say_when_to_try_again(
    stub: Stub, servicer: ScriptedReferrals
) -> None:
    servicer.error = errors.ResourceExhausted("too many attempts", retry_after_s=42)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateReferral(
            referrals_service_pb2.CreateReferralRequest(request_id="q-1", subject_member_id="m-1")
        )
    trailers = dict(caught.value.trailing_metadata() or ())
    assert trailers["retry-after"] == "42"


@pytest.mark.parametrize(
    "error",
    [RuntimeError("password=hunter2 host=db.internal"), errors.DomainError("password=hunter2")],
)
async def test_unexpected_errors_become_internal_without_details(
    stub: Stub,
    servicer: ScriptedReferrals,
    error: Exception,
) -> None:
    servicer.error = error
    with capture_logs() as logs, pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetReferral(get())
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details().startswith("internal error")
    assert "hunter2" not in caught.value.details()
    assert field_violations(caught.value) == []
    [logged] = [e for e in logs if e["event"] == "unhandled error in grpc handler"]
    assert logged["exc_info"] is True
    assert logged["log_level"] == "error"


async def test_every_call_gets_one_access_log_line(stub: Stub, servicer: ScriptedReferrals) -> None:
    servicer.error = errors.NotFound("no such referral")
    with capture_logs() as logs:
        with call_context(request_id="req-log", caller=None), pytest.raises(grpc.aio.AioRpcError):
            await stub.GetReferral(get())
        # The server logs the call once the client already has its status.
        line = await access_log_line(logs)
    assert line["method"] == f"/{SERVICE_NAME}/GetReferral"
    assert line["code"] == "NOT_FOUND"
    assert line["request_id"] == "req-log"
    assert line["duration_ms"] >= 0
    assert "trace_id" in line


async def test_trace_request_id_and_caller_reach_the_server(
    stub: Stub, servicer: ScriptedReferrals
) -> None:
    tracing.install_tracer_provider()
    caller = Caller(principal="partner-app:demo", bearer_token="synthetic-token")
    with (
        trace.get_tracer("test").start_as_current_span("client") as span,
        call_context(request_id="req-123", caller=caller),
    ):
        response = await stub.GetReferral(get("r-42"))
    assert response.referral.referral_id == "r-42"
    request_id, seen_caller, trace_id = servicer.seen[-1]
    assert request_id == "req-123"
    assert seen_caller == caller
    assert trace_id == format(span.get_span_context().trace_id, "032x")


async def test_server_makes_a_request_id_when_none_arrives(
    stub: Stub, servicer: ScriptedReferrals
) -> None:
    await stub.GetReferral(get())
    request_id, seen_caller, _ = servicer.seen[-1]
    assert request_id
    assert seen_caller is None


async def test_calls_without_a_deadline_get_the_default_one(server: GrpcServer) -> None:
    async with create_channel(server.address, default_timeout_s=0.2) as channel:
        stub = Stub(channel)
        # The outer wait only turns a missing deadline into a quick failure.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await asyncio.wait_for(
                stub.ListReferrals(referrals_service_pb2.ListReferralsRequest()), PATIENCE_S
            )
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_reflection_lists_the_services(server: GrpcServer) -> None:
    async with create_channel(server.address, default_timeout_s=PATIENCE_S) as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = reflection.ServerReflectionInfo()
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        response = await call.read()
        await call.done_writing()
    names = {service.name for service in response.list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


async def test_health_says_not_serving_until_the_owner_says_serving(
    servicer: ScriptedReferrals,
) -> None:
    running = await serve(servicer)
    try:
        async with create_channel(running.address, default_timeout_s=PATIENCE_S) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("", SERVICE_NAME):
                answer = await health.Check(health_pb2.HealthCheckRequest(service=name))
                assert answer.status == NOT_SERVING
            with pytest.raises(TimeoutError, match="NOT_SERVING"):
                await wait_for_serving(running.address, SERVICE_NAME, timeout_s=0.1)
            waiting = asyncio.create_task(
                wait_for_serving(running.address, SERVICE_NAME, timeout_s=PATIENCE_S)
            )
            await running.set_serving()
            await waiting
            answer = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
            assert answer.status == SERVING
    finally:
        await running.stop(0)


async def test_stop_says_not_serving_then_drains_in_flight_calls(
    servicer: ScriptedReferrals,
) -> None:
    running = await serve(servicer)
    await running.set_serving()
    async with create_channel(running.address, default_timeout_s=PATIENCE_S) as channel:
        stub = Stub(channel)
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        )
        assert (await watch.read()).status == SERVING
        in_flight = asyncio.ensure_future(
            stub.ListReferrals(referrals_service_pb2.ListReferralsRequest())
        )
        await asyncio.wait_for(servicer.slow_call_entered.wait(), PATIENCE_S)

        stopping = asyncio.create_task(running.stop(grace=PATIENCE_S))
        assert (await watch.read()).status == NOT_SERVING
        watch.cancel()
        assert not stopping.done()

        servicer.release_slow_call.set()
        response = await in_flight
        assert response.next_page_token == "done"
        await asyncio.wait_for(stopping, PATIENCE_S)

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetReferral(get())
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
