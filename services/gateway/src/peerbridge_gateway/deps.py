"""Dependencies of the routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.params import Security as SecurityParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from peerbridge_platform.grpc import Caller

from .authentication import SCHEME_NAME, Authenticated
from .clients.consents import ConsentsClient
from .clients.crisis import CrisisClient
from .clients.disclosures import DisclosuresClient
from .clients.emergency import EmergencyClient
from .clients.notes import NotesClient
from .clients.patients import PatientsClient
from .clients.referrals import ReferralsClient
from .clients.worklist import WorklistClient
from .idempotency.http import IdempotentPost
from .idempotency.keys import HEADER, KEY_RULE, is_valid_key
from .problems import FieldError, ProblemException
from .resources import GatewayResources
from .routing import AUTHENTICATED_SCOPE_KEY, route_template

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


def get_consents(resources: Resources) -> ConsentsClient:
    return resources.consents


Consents = Annotated[ConsentsClient, Depends(get_consents)]


def get_disclosures(resources: Resources) -> DisclosuresClient:
    return resources.disclosures


Disclosures = Annotated[DisclosuresClient, Depends(get_disclosures)]


def get_worklist(resources: Resources) -> WorklistClient:
    return resources.worklist


Worklist = Annotated[WorklistClient, Depends(get_worklist)]


def get_crisis(resources: Resources) -> CrisisClient:
    return resources.crisis


Crisis = Annotated[CrisisClient, Depends(get_crisis)]


def get_emergency(resources: Resources) -> EmergencyClient:
    return resources.emergency


Emergency = Annotated[EmergencyClient, Depends(get_emergency)]


def get_notes(resources: Resources) -> NotesClient:
    return resources.notes


Notes = Annotated[NotesClient, Depends(get_notes)]


def get_patients(resources: Resources) -> PatientsClient:
    return resources.patients


Patients = Annotated[PatientsClient, Depends(get_patients)]


bearer_scheme = HTTPBearer(
    scheme_name=SCHEME_NAME,
    bearerFormat="JWT",
    description="An access token from `POST /v1/auth/token`, valid for 5 minutes.",
    auto_error=False,
)


async def authenticated(
    request: Request,
    resources: Resources,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Authenticated:
    """The verified caller of this request; 401 without a valid bearer token."""
    known = request.scope.get(AUTHENTICATED_SCOPE_KEY)
    if isinstance(known, Authenticated):
        return known
    client_address, route = _origin(request), route_of(request)
    authenticator = resources.authenticator
    if credentials is None:
        raise await authenticator.missing(route=route, client_address=client_address)
    token = credentials.credentials
    principal = await authenticator.authenticate(token, route=route, client_address=client_address)
    result = Authenticated(principal=principal, token=token)
    request.scope[AUTHENTICATED_SCOPE_KEY] = result
    return result


async def current_caller(auth: Annotated[Authenticated, Depends(authenticated)]) -> Caller:
    """Who is calling: the authentication seam.

    The `/v1` router applies this dependency to every route it holds, so no
    route answers without a verified bearer token. The caller carries the
    token on to the services, which verify it again.
    """
    return auth.caller()


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def _check_scopes(
    request: Request,
    resources: Resources,
    security_scopes: SecurityScopes,
    auth: Annotated[Authenticated, Depends(authenticated)],
) -> None:
    await resources.authenticator.authorize(
        auth.principal,
        tuple(security_scopes.scopes),
        route=route_of(request),
        client_address=_origin(request),
    )


def _origin(request: Request) -> str | None:
    return request.client.host if request.client else None


def route_of(request: Request) -> str:
    return route_template(request.scope)


def require_scopes(*scopes: str) -> SecurityParam:
    """A route dependency: the token holds every one of `scopes`, else 403
    (`insufficient_scope`). The scopes also appear in the OpenAPI document."""
    dependency: SecurityParam = Security(_check_scopes, scopes=list(scopes))
    return dependency


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
        # Bound to the verified caller: one caller never replays another's response.
        caller=caller.principal or "",
        guard=resources.idempotency,
        renderer=resources.renderer,
        scope=request.scope,
    )


Idempotent = Annotated[IdempotentPost, Depends(idempotent_post)]
