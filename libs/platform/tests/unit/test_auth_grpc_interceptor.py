"""The authentication interceptor on a real grpc.aio server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from structlog.testing import capture_logs

from peerbridge.referrals.v1 import (
    referrals_resources_pb2,
    referrals_service_pb2,
    referrals_service_pb2_grpc,
)
from peerbridge_platform import errors
from peerbridge_platform.auth import (
    KeySet,
    Principal,
    Role,
    SigningKey,
    StaticJwksSource,
    TokenVerifier,
    current_peer,
    current_principal,
    issue_access_token,
    require_scopes,
)
from peerbridge_platform.grpc import (
    Caller,
    GrpcServer,
    ServiceRegistration,
    call_context,
    create_channel,
    start_server,
)
from peerbridge_platform.grpc.auth_interceptor import authenticated_server_interceptors

from .access_log import access_log_line

SERVICE_NAME = referrals_service_pb2.DESCRIPTOR.services_by_name["ReferralsService"].full_name
ISSUER = "https://identity.peerbridge.test"
AUDIENCE = "peerbridge"
KEY = SigningKey.generate()
PATIENCE_S = 5.0
Stub = referrals_service_pb2_grpc.ReferralsServiceStub


@dataclass
class Seen:
    principal: Principal | None
    peer: str | None


class Referrals(referrals_service_pb2_grpc.ReferralsServiceServicer):
    def __init__(self) -> None:
        self.seen: list[Seen] = []

    async def GetReferral(
        self, request: referrals_service_pb2.GetReferralRequest, context: object
    ) -> referrals_service_pb2.GetReferralResponse:
        self.seen.append(Seen(current_principal(), current_peer()))
        principal = current_principal()
        assert principal is not None
        require_scopes(principal, "referrals.read")
        referral = referrals_resources_pb2.Referral(referral_id=request.referral_id, version=1)
        return referrals_service_pb2.GetReferralResponse(referral=referral)

    async def CreateReferral(
        self, request: referrals_service_pb2.CreateReferralRequest, context: object
    ) -> referrals_service_pb2.CreateReferralResponse:
        raise errors.FailedPrecondition("not used here")

    async def ListReferrals(
        self, request: referrals_service_pb2.ListReferralsRequest, context: object
    ) -> referrals_service_pb2.ListReferralsResponse:
        raise errors.FailedPrecondition("not used here")


def token(key: SigningKey = KEY, **overrides: object) -> str:
    arguments: dict[str, object] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject": "clinician-42",
        "roles": [Role.CLINICIAN],
        "scopes": ["referrals.read"],
        "organization_id": "org-clinic",
    }
    return issue_access_token(key, **(arguments | overrides))  # type: ignore[arg-type]


@pytest.fixture
def servicer() -> Referrals:
    return Referrals()


@pytest.fixture
async def server(servicer: Referrals) -> AsyncIterator[GrpcServer]:
    verifier = TokenVerifier(ISSUER, AUDIENCE, StaticJwksSource.from_key_set(KeySet(KEY)))

    def add(server: grpc.aio.Server) -> None:
        referrals_service_pb2_grpc.add_ReferralsServiceServicer_to_server(servicer, server)

    running = await start_server(
        "127.0.0.1:0",
        [ServiceRegistration(SERVICE_NAME, add)],
        interceptors=authenticated_server_interceptors(verifier),
    )
    await running.set_serving()
    yield running
    await running.stop(0)


@pytest.fixture
async def channel(server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    async with create_channel(server.address, default_timeout_s=PATIENCE_S) as channel:
        yield channel


def get(referral_id: str = "r-1") -> referrals_service_pb2.GetReferralRequest:
    return referrals_service_pb2.GetReferralRequest(referral_id=referral_id)


async def test_a_valid_token_makes_the_principal_current(
    channel: grpc.aio.Channel, servicer: Referrals
) -> None:
    with call_context(request_id="req-auth", caller=Caller(bearer_token=token())):
        response = await Stub(channel).GetReferral(get("r-7"))
    assert response.referral.referral_id == "r-7"
    [seen] = servicer.seen
    assert seen.principal is not None
    assert seen.principal.subject == "clinician-42"
    assert seen.principal.roles == {Role.CLINICIAN}
    assert seen.peer is not None
    assert seen.peer.startswith("ipv4:127.0.0.1:")
    assert current_principal() is None  # nothing leaks to the client's context


async def test_a_missing_token_is_unauthenticated(
    channel: grpc.aio.Channel, servicer: Referrals
) -> None:
    with capture_logs() as logs:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await Stub(channel).GetReferral(get())
        # The server logs the call once the client already has its status.
        line = await access_log_line(logs)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.details() == "missing bearer token"
    assert servicer.seen == []
    assert line["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "credential",
    [
        "Bearer not-a-token",
        f"Bearer {token(audience='another-api')}",
        f"Bearer {token(issuer='https://evil.test')}",
        f"Bearer {token(key=SigningKey.generate())}",
        f"Basic {token()}",
    ],
    ids=["garbage", "audience", "issuer", "unknown-key", "not-bearer"],
)
async def test_bad_tokens_are_unauthenticated_with_a_safe_message(
    channel: grpc.aio.Channel, servicer: Referrals, credential: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await Stub(channel).GetReferral(get(), metadata=(("authorization", credential),))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    secret = credential.split(" ", 1)[1]
    assert secret not in caught.value.details()
    assert servicer.seen == []


async def test_authorization_errors_inside_the_handler_map_to_permission_denied(
    channel: grpc.aio.Channel,
) -> None:
    credential = (("authorization", f"Bearer {token(scopes=['checkins.read'])}"),)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await Stub(channel).GetReferral(get(), metadata=credential)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_health_and_reflection_need_no_token(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    response = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
    assert response.status == health_pb2.HealthCheckResponse.SERVING
    call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = await call.read()
    await call.done_writing()
    assert SERVICE_NAME in {service.name for service in listed.list_services_response.service}
