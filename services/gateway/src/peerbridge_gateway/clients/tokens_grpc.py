"""The token port over gRPC (identity's TokenService): a deadline on every call.

The channel is shared with the access token verifier, which reads the JWKS
through it (`peerbridge_platform.auth.identity_jwks_source`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2_grpc

from peerbridge.identity.v1 import identity_tokens_pb2 as tokens
from peerbridge.identity.v1 import identity_tokens_pb2_grpc as tokens_grpc
from peerbridge_platform.grpc import call_context, create_channel, current_request_id

from .grpc_calls import CHANNEL_OPTIONS, check_serving, service_error
from .tokens import (
    ClientCredentialsGrant,
    Grant,
    IssuedTokens,
    PasswordGrant,
    RefreshTokenGrant,
)

SERVICE = "identity"
Req = TypeVar("Req")
Resp = TypeVar("Resp")


def connect_identity(target: str, *, timeout_s: float) -> grpc.aio.Channel:
    """A channel to the identity service (tokens and JWKS)."""
    return create_channel(target, default_timeout_s=timeout_s, options=CHANNEL_OPTIONS)


class GrpcTokenClient:
    """`TokenClient` over a grpc.aio channel that its owner closes."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._stub = tokens_grpc.TokenServiceStub(channel)
        self._health: Any = health_pb2_grpc.HealthStub(channel)
        self._health_name = tokens.DESCRIPTOR.services_by_name["TokenService"].full_name

    async def issue_token(
        self, grant: Grant, *, scopes: tuple[str, ...], client_address: str
    ) -> IssuedTokens:
        request = tokens.IssueTokenRequest(scopes=scopes, client_address=client_address)
        match grant:
            case PasswordGrant():
                request.password.username = grant.username
                request.password.password = grant.password
            case RefreshTokenGrant():
                request.refresh_token.refresh_token = grant.refresh_token
            case ClientCredentialsGrant():
                request.client_credentials.client_assertion_type = grant.client_assertion_type
                request.client_credentials.client_assertion = grant.client_assertion
        response = await self._call(self._stub.IssueToken, request)
        return IssuedTokens(
            access_token=response.access_token,
            token_type=response.token_type or "Bearer",
            expires_in=response.expires_in,
            scopes=tuple(response.scopes),
            refresh_token=response.refresh_token or None,
        )

    async def revoke_token(self, token: str, *, client_address: str) -> None:
        request = tokens.RevokeTokenRequest(token=token, client_address=client_address)
        await self._call(self._stub.RevokeToken, request)

    async def get_jwks(self) -> str:
        response = await self._call(self._stub.GetJwks, tokens.GetJwksRequest())
        return str(response.jwks_json)

    async def check_serving(self) -> None:
        await check_serving(self._health, self._health_name, self._timeout_s)

    async def _call(self, method: Callable[..., Awaitable[Resp]], request: Req) -> Resp:
        # No caller: these RPCs are open, and each grant authenticates itself.
        with call_context(request_id=current_request_id(), caller=None):
            try:
                return await method(request, timeout=self._timeout_s)
            except grpc.aio.AioRpcError as error:
                raise service_error(SERVICE, error) from None
