from __future__ import annotations

import pytest

from peerbridge_platform.inbox.naming import consumer_group


def test_group_is_named_after_service_and_purpose() -> None:
    assert consumer_group("sessions", "referral-intake") == "peerbridge.sessions.referral-intake"


@pytest.mark.parametrize(
    ("service", "purpose"),
    [("", "x"), ("sessions", ""), ("Sessions", "x"), ("sessions", "a.b"), ("s", "has space")],
)
def test_rejects_parts_that_would_break_the_convention(service: str, purpose: str) -> None:
    with pytest.raises(ValueError, match="consumer group"):
        consumer_group(service, purpose)
