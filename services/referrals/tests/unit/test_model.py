"""A new referral: REQUESTED, version 1, and the fact that it was created."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from peerbridge_referrals.domain.commands import CreateReferral
from peerbridge_referrals.domain.events import ReferralCreated
from peerbridge_referrals.domain.model import open_referral
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import Status


def test_a_new_referral_is_requested_at_version_one(create_command: CreateReferral) -> None:
    details = validate_new_referral(create_command)
    referral_id = uuid4()
    now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

    referral, created = open_referral(
        details, referral_id=referral_id, request_id=create_command.request_id, now=now
    )

    assert referral.referral_id == referral_id
    assert referral.status is Status.REQUESTED
    assert referral.version == 1
    assert referral.create_time == referral.update_time == now
    assert referral.request_id == create_command.request_id
    assert referral.details == details
    assert created == ReferralCreated(referral=referral)


def test_an_empty_request_id_is_stored_as_none(create_command: CreateReferral) -> None:
    details = validate_new_referral(create_command)

    referral, _ = open_referral(
        details, referral_id=uuid4(), request_id="", now=datetime(2026, 3, 1, tzinfo=UTC)
    )

    assert referral.request_id is None
