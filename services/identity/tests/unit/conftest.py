"""Unit tests act as an administrator unless they say otherwise (`acting_as`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from peerbridge_platform.auth import Principal, Role, principal_context
from peerbridge_platform.auth.scopes import ROLE_SCOPES

ADMIN = Principal(
    subject=str(uuid4()),
    roles=frozenset({Role.ADMIN}),
    scopes=ROLE_SCOPES[Role.ADMIN],
    organization_id=None,
    client_id=None,
    token_id="unit-admin",
    expires_at=datetime(2099, 1, 1, tzinfo=UTC),
)


@pytest.fixture(autouse=True)
def administrator() -> Iterator[Principal]:
    with principal_context(ADMIN, peer="ipv4:127.0.0.1:1"):
        yield ADMIN
