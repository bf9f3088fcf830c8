"""How a new assessment moves the stored state, and which change it announces."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from peerbridge_identity.domain.eligibility import (
    Assessment,
    EligibilityState,
    Reason,
    change_between,
    record_assessment,
)
from peerbridge_identity.domain.events import SupporterEligibilityChanged
from peerbridge_identity.domain.values import EligibilityChange, EligibilityStatus, ReasonCode

TODAY = date(2026, 3, 2)
EARLIER = datetime(2026, 1, 5, 8, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
PERSON, PROGRAM = uuid4(), uuid4()
ELIGIBLE, EXPIRING, INELIGIBLE = (
    EligibilityStatus.ELIGIBLE,
    EligibilityStatus.EXPIRING_SOON,
    EligibilityStatus.INELIGIBLE,
)
EXPIRED_REASON = Reason(ReasonCode.CERTIFICATION_EXPIRED, on=TODAY)


def assessment(status: EligibilityStatus, *reasons: Reason) -> Assessment:
    lapses = None if status is INELIGIBLE else TODAY + timedelta(days=10)
    return Assessment(status, reasons, lapses, None, TODAY)


def state(status: EligibilityStatus, version: int = 3) -> EligibilityState:
    return EligibilityState(PERSON, PROGRAM, status, (), None, None, TODAY, EARLIER, version)


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (INELIGIBLE, assessment(ELIGIBLE), EligibilityChange.GRANTED),
        (INELIGIBLE, assessment(EXPIRING), EligibilityChange.GRANTED),
        (ELIGIBLE, assessment(EXPIRING), EligibilityChange.EXPIRING_SOON),
        (EXPIRING, assessment(ELIGIBLE), EligibilityChange.GRANTED),
        (ELIGIBLE, assessment(INELIGIBLE, EXPIRED_REASON), EligibilityChange.EXPIRED),
        (EXPIRING, assessment(INELIGIBLE, EXPIRED_REASON), EligibilityChange.EXPIRED),
        (
            EXPIRING,
            assessment(INELIGIBLE, Reason(ReasonCode.TRAINING_EXPIRED, "ethics", TODAY)),
            EligibilityChange.EXPIRED,
        ),
        (
            ELIGIBLE,
            assessment(INELIGIBLE, Reason(ReasonCode.NOT_A_PEER_SUPPORTER)),
            EligibilityChange.REVOKED,
        ),
        (
            ELIGIBLE,
            assessment(INELIGIBLE, Reason(ReasonCode.CERTIFICATION_MISSING)),
            EligibilityChange.REVOKED,
        ),
        (ELIGIBLE, assessment(ELIGIBLE), None),
        (EXPIRING, assessment(EXPIRING), None),
        (INELIGIBLE, assessment(INELIGIBLE, EXPIRED_REASON), None),
    ],
)
def test_change_between(
    previous: EligibilityStatus, current: Assessment, expected: EligibilityChange | None
) -> None:
    assert change_between(previous, current) is expected


def test_a_new_ineligible_supporter_is_stored_without_an_event() -> None:
    stored, event = record_assessment(
        None,
        assessment(INELIGIBLE, Reason(ReasonCode.SUPERVISOR_MISSING)),
        person_id=PERSON,
        organization_id=PROGRAM,
        now=NOW,
    )

    assert event is None
    assert (stored.status, stored.version, stored.change_time) == (INELIGIBLE, 1, NOW)


def test_a_status_change_is_stored_and_announced_once() -> None:
    stored, event = record_assessment(
        state(ELIGIBLE), assessment(EXPIRING), person_id=PERSON, organization_id=PROGRAM, now=NOW
    )

    assert event == SupporterEligibilityChanged(stored, ELIGIBLE, EligibilityChange.EXPIRING_SOON)
    assert (stored.status, stored.version, stored.change_time) == (EXPIRING, 4, NOW)
    assert stored.lapses_on == TODAY + timedelta(days=10)


def test_the_same_status_again_keeps_the_change_time_and_announces_nothing() -> None:
    stored, event = record_assessment(
        state(ELIGIBLE), assessment(ELIGIBLE), person_id=PERSON, organization_id=PROGRAM, now=NOW
    )

    assert event is None
    assert stored.change_time == EARLIER
    assert stored.version == 4
