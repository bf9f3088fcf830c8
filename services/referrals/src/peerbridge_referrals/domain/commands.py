"""Commands: orders from outside, in plain values, not yet checked.

Enumerations arrive as their lower-case names ("" when the caller left them
unset), so every entry point (gRPC, a consumer, a test) speaks the same
language and the domain reports every bad field at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartyInput:
    kind: str
    organization_id: str
    display_name: str
    practitioner_id: str | None = None


@dataclass(frozen=True)
class CreateReferral:
    request_id: str
    subject_member_id: str
    direction: str
    category: str
    priority: str
    reason: str
    requester: PartyInput | None
    recipient: PartyInput | None


@dataclass(frozen=True)
class UpdateReferralStatus:
    referral_id: str
    status: str
    status_reason: str = ""
    # "" when the caller gave no category.
    status_reason_category: str = ""
    outcome: str = ""
    # The version the caller read; 0 asks for no check.
    expected_version: int = 0
