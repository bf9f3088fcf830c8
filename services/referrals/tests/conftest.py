"""Shared builders for the referrals tests. Every person and organization here is synthetic."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from peerbridge_platform.auth import Principal, Role
from peerbridge_platform.auth.scopes import allowed_scopes
from peerbridge_platform.crypto import Keyring, new_key_entry
from peerbridge_referrals.adapters.reason_cipher import ReasonCipher
from peerbridge_referrals.domain.commands import CreateReferral, PartyInput


def synthetic_create_command(**changes: object) -> CreateReferral:
    """A valid peer-support-to-clinic referral of a synthetic member, with `changes` applied."""
    fields: dict[str, object] = {
        "request_id": str(uuid4()),
        "subject_member_id": "member-synthetic-001",
        "direction": "peer_support_to_clinic",
        "category": "medication_for_opioid_use_disorder",
        "priority": "urgent",
        "reason": "Asked for help starting buprenorphine after a peer session.",
        "requester": PartyInput(
            kind="peer_support_program",
            organization_id="program-harbour-test",
            display_name="Harbour Peer Recovery (test)",
            practitioner_id="supporter-test-7",
        ),
        "recipient": PartyInput(
            kind="clinic",
            organization_id="clinic-northside-test",
            display_name="Northside Health Clinic (test)",
        ),
    }
    fields.update(changes)
    return CreateReferral(**fields)  # type: ignore[arg-type]


CommandBuilder = Callable[..., CreateReferral]

# The synthetic program that `synthetic_create_command` refers from, and its coordinator.
PROGRAM = "program-harbour-test"
CLINIC = "clinic-northside-test"


def synthetic_principal(
    subject: str = "coordinator-test-1",
    roles: tuple[Role, ...] = (Role.COORDINATOR,),
    organization_id: str | None = PROGRAM,
    scopes: frozenset[str] | None = None,
    client_id: str | None = None,
) -> Principal:
    """A verified caller; its scopes default to everything its roles allow."""
    return Principal(
        subject=subject,
        roles=frozenset(roles),
        scopes=allowed_scopes(roles) if scopes is None else scopes,
        organization_id=organization_id,
        client_id=client_id,
        token_id=str(uuid4()),
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


@pytest.fixture
def make_command() -> CommandBuilder:
    """Builds valid create commands; keyword arguments replace fields."""
    return synthetic_create_command


@pytest.fixture
def create_command() -> CreateReferral:
    return synthetic_create_command()


class SteppingClock:
    """A clock that moves `step` forward on every reading, so creation order is known."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self._times = (start + step * n for n in itertools.count())

    def __call__(self) -> datetime:
        return next(self._times)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(datetime(2026, 3, 1, 9, 30, tzinfo=UTC), timedelta(milliseconds=7))


@pytest.fixture
def new_id() -> Callable[[], UUID]:
    return uuid4


@pytest.fixture(scope="session")
def encryption_keys() -> str:
    """A PEERBRIDGE_ENCRYPTION_KEYS value with one fresh key, for this test run only."""
    return new_key_entry("test1")


@pytest.fixture(scope="session")
def cipher(encryption_keys: str) -> ReasonCipher:
    return ReasonCipher(Keyring.from_setting(encryption_keys))
