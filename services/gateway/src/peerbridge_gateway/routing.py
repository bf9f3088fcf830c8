"""Which declared route a request matched, for logs and the audit trail."""

from __future__ import annotations

from starlette.types import Scope

# Where a request's verified caller is kept (deps.authenticated), so that it is verified once.
AUTHENTICATED_SCOPE_KEY = "peerbridge.authenticated"


def route_template(scope: Scope) -> str:
    """The route as declared ("GET /v1/referrals/{referral_id}"): never the ids in the path;
    "(no route)" before routing or when nothing matched."""
    return f"{scope.get('method', '?')} {route_path(scope)}"


def route_path(scope: Scope) -> str:
    """The declared path of the matched route ("/v1/referrals/{referral_id}")."""
    # FastAPI 0.137+ keeps the prefixed path of an included router's route in the effective
    # route context; `scope["route"].path` lacks the prefixes there.
    context = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(context, "path", None) or getattr(scope.get("route"), "path", None)
    return template or "(no route)"
