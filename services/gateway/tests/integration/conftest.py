"""Real servers for the gateway's integration tests: PostgreSQL databases, the referrals
service as `make run` starts it (`python -m peerbridge_referrals`), an issuer of access
tokens on a real gRPC socket, and the gateway itself served by uvicorn on a free loopback
port."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
import httpx
import pytest
import uvicorn

from peerbridge.identity.v1 import identity_tokens_pb2 as tokens_pb2
from peerbridge.identity.v1 import identity_tokens_pb2_grpc as tokens_grpc
from peerbridge_devstack.ports import free_port
from peerbridge_gateway.app import create_app
from peerbridge_gateway.config import GatewaySettings
from peerbridge_platform.auth import KeySet, SigningKey
from peerbridge_platform.grpc import ServiceRegistration, start_server, wait_for_serving

from ..conftest import TokenMinter

REFERRALS_HEALTH_NAME = "peerbridge.referrals.v1.ReferralsService"
TOKEN_SERVICE = tokens_pb2.DESCRIPTOR.services_by_name["TokenService"].full_name
STARTUP_TIMEOUT_S = 60.0
# The settings' defaults, as every process reads them.
ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "peerbridge"


@asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    name = f"gateway_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(admin_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


class _JwksOnly(tokens_grpc.TokenServiceServicer):
    """Identity's TokenService as far as token verification needs it: GetJwks. The grants
    are identity's to test (the gateway's token endpoints meet it in tests/e2e)."""

    def __init__(self, key_set: KeySet) -> None:
        self.key_set = key_set

    async def GetJwks(
        self, request: tokens_pb2.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> tokens_pb2.GetJwksResponse:
        return tokens_pb2.GetJwksResponse(jwks_json=json.dumps(self.key_set.to_jwks()))

    async def IssueToken(
        self, request: tokens_pb2.IssueTokenRequest, context: grpc.aio.ServicerContext
    ) -> tokens_pb2.IssueTokenResponse:
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        return tokens_pb2.IssueTokenResponse()

    async def RevokeToken(
        self, request: tokens_pb2.RevokeTokenRequest, context: grpc.aio.ServicerContext
    ) -> tokens_pb2.RevokeTokenResponse:
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        return tokens_pb2.RevokeTokenResponse()


@dataclass
class TokenIssuer(TokenMinter):
    """Signs access tokens and publishes its keys over gRPC, as identity does."""

    target: str = ""


@pytest.fixture(scope="module")
async def token_issuer() -> AsyncIterator[TokenIssuer]:
    """A TokenService that serves only GetJwks, on a real gRPC socket, with a fresh key set."""
    servicer = _JwksOnly(KeySet(SigningKey.generate()))
    server = await start_server(
        "127.0.0.1:0",
        [
            ServiceRegistration(
                TOKEN_SERVICE,
                lambda grpc_server: tokens_grpc.add_TokenServiceServicer_to_server(
                    servicer, grpc_server
                ),
            )
        ],
    )
    await server.set_serving()
    try:
        yield TokenIssuer(servicer.key_set, ISSUER, AUDIENCE, target=server.address)
    finally:
        await server.stop(None)


@dataclass
class ReferralsService:
    target: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = spawn(
            [sys.executable, "-m", "peerbridge_referrals"], self.env, self.log_path
        )

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    async def wait_until_serving(self) -> None:
        try:
            await wait_for_serving(self.target, REFERRALS_HEALTH_NAME, STARTUP_TIMEOUT_S)
        except TimeoutError:
            self.stop()
            pytest.fail(f"the referrals service did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


@pytest.fixture(scope="module")
async def referrals_service(
    postgres_admin_url: str,
    kafka_bootstrap: str,
    encryption_keys: str,
    token_issuer: TokenIssuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ReferralsService]:
    """The real referrals service, started as a process on a free port with its own database."""
    async with fresh_database(postgres_admin_url) as database_url:
        target = f"127.0.0.1:{free_port()}"
        log_path = tmp_path_factory.mktemp("referrals") / "referrals.log"
        env = os.environ | {
            "PEERBRIDGE_DATABASE_URL": database_url,
            "PEERBRIDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "PEERBRIDGE_GRPC_LISTEN": target,
            "PEERBRIDGE_ENCRYPTION_KEYS": encryption_keys,
            "PEERBRIDGE_LOG_FORMAT": "console",
            # The same keys as the gateway's: the service verifies the forwarded token again.
            "PEERBRIDGE_IDENTITY_TARGET": token_issuer.target,
            "PEERBRIDGE_TOKEN_ISSUER": token_issuer.issuer,
            "PEERBRIDGE_TOKEN_AUDIENCE": token_issuer.audience,
        }
        service = ReferralsService(target, env, log_path)
        service.start()
        try:
            await service.wait_until_serving()
            yield service
        finally:
            service.stop()


def spawn(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start `command` with its output going to `log_path`."""
    with log_path.open("wb") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass
class RunningGateway:
    url: str
    database_url: str
    settings: GatewaySettings


@asynccontextmanager
async def serve_gateway(settings: GatewaySettings) -> AsyncIterator[str]:
    """The gateway app served by uvicorn in this event loop; yields its base URL."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not server.started:
                if task.done():
                    raise RuntimeError("the gateway did not start") from task.exception()
                await asyncio.sleep(0.01)
        yield f"http://{settings.http_host}:{settings.http_port}"
    finally:
        server.should_exit = True
        await task


def gateway_settings(
    database_url: str,
    encryption_keys: str,
    referrals: ReferralsService,
    issuer: TokenIssuer,
    **changes: object,
) -> GatewaySettings:
    """Settings of a gateway on a free port that calls `referrals` and trusts `issuer`
    (its audit entries go to the broker referrals uses)."""
    settings = GatewaySettings(
        database_url=database_url,  # type: ignore[arg-type]
        encryption_keys=encryption_keys,  # type: ignore[arg-type]
        kafka_bootstrap=referrals.env["PEERBRIDGE_KAFKA_BOOTSTRAP"],
        http_port=free_port(),
        referrals_target=referrals.target,
        identity_target=issuer.target,
        token_issuer=issuer.issuer,
        token_audience=issuer.audience,
    )
    return settings.model_copy(update=changes)


@pytest.fixture(scope="module")
async def gateway(
    postgres_admin_url: str,
    referrals_service: ReferralsService,
    token_issuer: TokenIssuer,
    encryption_keys: str,
) -> AsyncIterator[RunningGateway]:
    """The gateway over real HTTP, calling the real referrals service, with its own database."""
    async with fresh_database(postgres_admin_url) as database_url:
        settings = gateway_settings(
            database_url,
            encryption_keys,
            referrals_service,
            token_issuer,
            idempotency_wait_s=20.0,
        )
        async with serve_gateway(settings) as url:
            yield RunningGateway(url, database_url, settings)


@pytest.fixture
async def http(
    gateway: RunningGateway, token_issuer: TokenIssuer
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway that sends a coordinator's token with the referral scopes."""
    async with httpx.AsyncClient(
        base_url=gateway.url, timeout=30, headers=token_issuer.bearer()
    ) as client:
        yield client


Spawn = Callable[[list[str], dict[str, str], Path], subprocess.Popen[bytes]]
FreshDatabase = Callable[[], AbstractAsyncContextManager[str]]


@pytest.fixture
def spawn_process() -> Iterator[Spawn]:
    """`spawn_process(command, env, log_path)`; whatever it started is stopped at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
        process = spawn(command, env, log_path)
        started.append(process)
        return process

    yield start
    for process in started:
        stop(process)


@pytest.fixture
def new_database(postgres_admin_url: str) -> FreshDatabase:
    """`async with new_database() as url`: a fresh database, dropped at the end of the block."""
    return lambda: fresh_database(postgres_admin_url)


@pytest.fixture
async def anonymous(gateway: RunningGateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway that sends no token unless a request names one."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        yield client
