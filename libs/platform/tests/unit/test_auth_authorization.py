"""Authorization helpers and the current-principal context."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from peerbridge_platform.auth import (
    Principal,
    Role,
    current_principal,
    not_found_unless,
    principal_context,
    require_any_role,
    require_principal,
    require_scopes,
)
from peerbridge_platform.auth.authorization import Role as ReexportedRole
from peerbridge_platform.errors import NotFound, PermissionDenied, Unauthenticated


def principal(
    *roles: Role, scopes: frozenset[str] = frozenset(), subject: str = "m-1"
) -> Principal:
    return Principal(
        subject=subject,
        roles=frozenset(roles),
        scopes=scopes,
        organization_id="org-1",
        client_id=None,
        token_id="t-1",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


def test_roles_are_the_platforms_roles() -> None:
    assert ReexportedRole is Role
    assert [role.value for role in Role] == [
        "member",
        "peer_supporter",
        "clinician",
        "coordinator",
        "supervisor",
        "admin",
        "partner_client",
    ]
    assert Role("clinician") == "clinician"


def test_require_scopes_needs_every_scope() -> None:
    caller = principal(scopes=frozenset({"referrals.read", "referrals.write"}))
    require_scopes(caller, "referrals.read")
    require_scopes(caller, "referrals.read", "referrals.write")
    with pytest.raises(PermissionDenied, match=r"requires scope checkins\.read"):
        require_scopes(caller, "referrals.read", "checkins.read")


def test_require_any_role() -> None:
    clinician = principal(Role.CLINICIAN)
    require_any_role(clinician, Role.CLINICIAN, Role.COORDINATOR)
    with pytest.raises(PermissionDenied):
        require_any_role(clinician, Role.ADMIN)
    with pytest.raises(PermissionDenied):
        require_any_role(principal(), Role.MEMBER)
    with pytest.raises(ValueError, match="at least one role"):
        require_any_role(clinician)


def test_not_found_unless_hides_existence() -> None:
    not_found_unless(True)
    with pytest.raises(NotFound) as caught:
        not_found_unless(False, "no such referral")
    assert not isinstance(caught.value, PermissionDenied)
    assert caught.value.message == "no such referral"


async def test_principal_context_is_per_task() -> None:
    assert current_principal() is None
    with pytest.raises(Unauthenticated):
        require_principal()

    async def as_(subject: str) -> str | None:
        with principal_context(principal(subject=subject), peer=f"ipv4:10.0.0.1:{len(subject)}"):
            await asyncio.sleep(0)
            seen = current_principal()
            return seen.subject if seen else None

    assert list(await asyncio.gather(as_("alice"), as_("bob"))) == ["alice", "bob"]
    assert current_principal() is None
