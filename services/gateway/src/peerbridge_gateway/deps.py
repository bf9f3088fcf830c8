"""Dependencies of the routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from peerbridge_platform.grpc import Caller

from .clients.referrals import ReferralsClient
from .idempotency.http import IdempotentPost
from .idempotency.keys import HEADER, KEY_RULE, is_valid_key
from .problems import FieldError, ProblemException
from .resources import GatewayResources

# Until partner apps authenticate, every caller is this one.
ANONYMOUS_PARTNER = Caller(principal="partner:anonymous")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def get_resources(request: Request) -> GatewayResources:
    resources = getattr(request.app.state, "resources", None)
    if not isinstance(resources, GatewayResources):
        raise RuntimeError("the gateway's lifespan has not run: no resources")
    return resources


Resources = Annotated[GatewayResources, Depends(get_resources)]


def get_referrals(resources: Resources) -> ReferralsClient:
    return resources.referrals


Referrals = Annotated[ReferralsClient, Depends(get_referrals)]


async def current_caller() -> Caller:
    """Who is calling: the authentication seam.

    The `/v1` router applies this one dependency to every route it holds, so
    verifying bearer tokens here (OAuth2, later) switches authentication on for
    the whole API at once. Until then every caller is the anonymous partner.
    """
    return ANONYMOUS_PARTNER


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def require_json_body(request: Request) -> None:
    """A request with a body must send it as JSON (`application/json` or `+json`): else 415."""
    if request.method not in _BODY_METHODS:
        return
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return
    raise ProblemException(
        status=415,
        title="Unsupported media type",
        slug="unsupported-media-type",
        detail="Send the request body as application/json.",
        headers={"Accept-Post": "application/json"},
    )


async def idempotent_post(
    request: Request,
    caller: CurrentCaller,
    resources: Resources,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Makes the POST safe to retry: the same key and body replay the "
            "first response (with `Idempotent-Replayed: true`); the same key with another "
            "body is refused with 409. Optional; 1 to 255 visible ASCII characters, "
            "a UUID is a good choice. Kept for 24 hours by default.",
        ),
    ] = None,
) -> IdempotentPost:
    if idempotency_key is not None and not is_valid_key(idempotency_key):
        raise ProblemException(
            status=400,
            title="Invalid Idempotency-Key",
            slug="invalid-idempotency-key",
            detail=f"The {HEADER} header {KEY_RULE}.",
            errors=[FieldError(field=HEADER, detail=KEY_RULE)],
        )
    return IdempotentPost(
        key=idempotency_key,
        caller=caller.principal or "",
        guard=resources.idempotency,
        renderer=resources.renderer,
        scope=request.scope,
    )


Idempotent = Annotated[IdempotentPost, Depends(idempotent_post)]
