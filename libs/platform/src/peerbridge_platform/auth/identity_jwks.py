"""The identity service's JWKS over gRPC (`TokenService.GetJwks`), for token verifiers."""

from __future__ import annotations

import grpc

from peerbridge.identity.v1 import identity_tokens_pb2, identity_tokens_pb2_grpc

from .jwks import RefreshingJwksSource


def identity_jwks_source(
    channel: grpc.aio.Channel,
    *,
    timeout_s: float = 5.0,
    max_age_s: float = 300.0,
    min_refresh_interval_s: float = 30.0,
    max_stale_s: float = 3600.0,
) -> RefreshingJwksSource:
    """Keys fetched from identity on `channel`, cached, refreshed on an unknown `kid`
    (so a rotation is picked up at once) at most once per `min_refresh_interval_s`."""
    stub = identity_tokens_pb2_grpc.TokenServiceStub(channel)

    async def download() -> bytes:
        try:
            response = await stub.GetJwks(identity_tokens_pb2.GetJwksRequest(), timeout=timeout_s)
        except grpc.aio.AioRpcError as error:
            raise OSError(f"identity GetJwks failed: {error.code().name}") from error
        document: str = response.jwks_json
        return document.encode()

    return RefreshingJwksSource(
        download,
        name="identity TokenService.GetJwks",
        timeout_s=timeout_s,
        max_age_s=max_age_s,
        min_refresh_interval_s=min_refresh_interval_s,
        max_stale_s=max_stale_s,
    )
