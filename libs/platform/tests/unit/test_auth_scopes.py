"""What each role may be granted, and how requested scopes are narrowed."""

from __future__ import annotations

import pytest

from peerbridge_platform.auth import Role
from peerbridge_platform.auth import scopes as s


def test_every_role_has_an_entry_and_only_known_scopes() -> None:
    assert set(s.ROLE_SCOPES) == set(Role)
    for granted in s.ROLE_SCOPES.values():
        assert granted <= s.ALL_SCOPES


def test_an_administrator_does_not_read_clinical_records() -> None:
    assert s.REFERRALS_READ not in s.allowed_scopes([Role.ADMIN])


def test_roles_add_up() -> None:
    both = s.allowed_scopes([Role.MEMBER, Role.SUPERVISOR])
    assert both == s.ROLE_SCOPES[Role.MEMBER] | s.ROLE_SCOPES[Role.SUPERVISOR]


def test_nothing_requested_grants_everything_allowed() -> None:
    allowed = s.allowed_scopes([Role.CLINICIAN])
    assert s.granted_scopes([], allowed) == allowed


def test_a_narrower_request_is_granted_as_asked() -> None:
    allowed = s.allowed_scopes([Role.CLINICIAN])
    assert s.granted_scopes([s.REFERRALS_READ], allowed) == {s.REFERRALS_READ}


def test_a_scope_not_allowed_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="admin"):
        s.granted_scopes([s.REFERRALS_READ, s.ADMIN], s.allowed_scopes([Role.MEMBER]))
