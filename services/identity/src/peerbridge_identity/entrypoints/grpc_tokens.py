"""The TokenService servicer: the back end of the OAuth2 token endpoint.

Open to unauthenticated callers by design (see identity_tokens.proto): each
grant authenticates itself. The address the gateway reports for its client
is what the throttle counts and the audit trail records as the origin.
"""

from __future__ import annotations

from typing import Any

from peerbridge.identity.v1 import identity_tokens_pb2 as tokens_pb2
from peerbridge.identity.v1 import identity_tokens_pb2_grpc as tokens_grpc
from peerbridge_platform.auth import current_peer, principal_context
from peerbridge_platform.errors import FieldViolation, InvalidArgument
from peerbridge_platform.grpc import ServiceRegistration

from ..service_layer.token_grants import IssuedTokens, TokenIssuer

SERVICE_NAME: str = tokens_pb2.DESCRIPTOR.services_by_name["TokenService"].full_name
_MAX_SCOPES = 32
_MAX_ADDRESS = 256


class TokenServicer(tokens_grpc.TokenServiceServicer):
    def __init__(self, issuer: TokenIssuer) -> None:
        self._issuer = issuer

    async def IssueToken(
        self, request: tokens_pb2.IssueTokenRequest, context: Any
    ) -> tokens_pb2.IssueTokenResponse:
        scopes = list(request.scopes)
        if len(scopes) > _MAX_SCOPES:
            raise InvalidArgument("too many scopes", [FieldViolation("scopes", "too many")])
        address = _origin(request.client_address, context)
        grant = request.WhichOneof("grant")
        with principal_context(None, peer=address):
            if grant == "password":
                issued = await self._issuer.password_grant(
                    request.password.username, request.password.password, scopes, address
                )
            elif grant == "refresh_token":
                issued = await self._issuer.refresh_grant(
                    request.refresh_token.refresh_token, scopes
                )
            elif grant == "client_credentials":
                credentials = request.client_credentials
                issued = await self._issuer.client_credentials_grant(
                    credentials.client_assertion_type,
                    credentials.client_assertion,
                    scopes,
                    address,
                )
            else:
                raise InvalidArgument(
                    "a grant is required", [FieldViolation("grant", "is required")]
                )
        return _response(issued)

    async def RevokeToken(
        self, request: tokens_pb2.RevokeTokenRequest, context: Any
    ) -> tokens_pb2.RevokeTokenResponse:
        with principal_context(None, peer=_origin(request.client_address, context)):
            await self._issuer.revoke(request.token)
        return tokens_pb2.RevokeTokenResponse()

    async def GetJwks(
        self, request: tokens_pb2.GetJwksRequest, context: Any
    ) -> tokens_pb2.GetJwksResponse:
        return tokens_pb2.GetJwksResponse(jwks_json=self._issuer.jwks_json())


def _origin(client_address: str, context: Any) -> str:
    """The end client's address as the gateway saw it, else this call's peer."""
    if len(client_address) > _MAX_ADDRESS:
        raise InvalidArgument(
            "client_address is too long", [FieldViolation("client_address", "is too long")]
        )
    return client_address or current_peer() or str(context.peer())


def _response(issued: IssuedTokens) -> tokens_pb2.IssueTokenResponse:
    return tokens_pb2.IssueTokenResponse(
        access_token=issued.access_token,
        token_type="Bearer",  # noqa: S106 (the RFC 6750 token type)
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        scopes=list(issued.scopes),
    )


def token_registration(issuer: TokenIssuer) -> ServiceRegistration:
    servicer = TokenServicer(issuer)
    return ServiceRegistration(
        SERVICE_NAME,
        lambda server: tokens_grpc.add_TokenServiceServicer_to_server(servicer, server),
    )
