"""Authorization checks for handlers: scopes, roles, and object-level existence.

Each raises a domain error that the gRPC error mapping (and the gateway)
turn into the right status: PermissionDenied (403) when the caller may know
the object exists, NotFound (404) when existence itself is sensitive, such
as another member's records.
"""

from __future__ import annotations

from ..errors import NotFound, PermissionDenied
from .principal import Principal, Role

__all__ = ["Role", "not_found_unless", "require_any_role", "require_scopes"]


def require_scopes(principal: Principal, *scopes: str) -> None:
    """Every one of `scopes` was granted to the token."""
    missing = sorted(set(scopes) - principal.scopes)
    if missing:
        # Naming the required scopes follows RFC 6750 §3.1 (insufficient_scope).
        raise PermissionDenied(f"requires scope {' '.join(missing)}")


def require_any_role(principal: Principal, *roles: Role) -> None:
    """The caller holds at least one of `roles`."""
    if not roles:
        raise ValueError("name at least one role")
    if principal.roles.isdisjoint(roles):
        raise PermissionDenied("the caller's role does not allow this")


def not_found_unless(condition: bool, message: str = "not found") -> None:
    """For objects whose existence is sensitive: deny as if the object were not there."""
    if not condition:
        raise NotFound(message)
