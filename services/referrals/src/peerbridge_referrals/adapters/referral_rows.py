"""Referral ⇄ row of the `referrals` table.

The free texts are stored sealed (`reason_ciphertext`, `status_reason_ciphertext`,
`outcome_ciphertext`); these functions take and give them sealed, and the
repository seals and opens them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from ..domain.model import Referral
from ..domain.values import (
    Category,
    Direction,
    Party,
    PartyKind,
    Priority,
    Status,
    StatusReasonCategory,
)

COLUMNS = (
    "referral_id",
    "request_id",
    "subject_member_id",
    "direction",
    "category",
    "priority",
    "reason_ciphertext",
    "requester_kind",
    "requester_organization_id",
    "requester_display_name",
    "requester_practitioner_id",
    "recipient_kind",
    "recipient_organization_id",
    "recipient_display_name",
    "recipient_practitioner_id",
    "status",
    "create_time",
    "update_time",
    "version",
    "status_reason_ciphertext",
    "status_reason_category",
    "outcome_ciphertext",
)
SELECT_COLUMNS = ", ".join(COLUMNS)


T = TypeVar("T", str, bytes)


@dataclass(frozen=True)
class Texts(Generic[T]):
    """A referral's free texts, all sealed (bytes) or all open (str)."""

    reason: T
    status_reason: T | None = None
    outcome: T | None = None


def row_values(referral: Referral, sealed: Texts[bytes]) -> tuple[Any, ...]:
    """The values of `COLUMNS`, in order."""
    category = referral.status_reason_category
    return (
        referral.referral_id,
        referral.request_id,
        referral.subject_member_id,
        referral.direction.value,
        referral.category.value,
        referral.priority.value,
        sealed.reason,
        *_party_values(referral.requester),
        *_party_values(referral.recipient),
        referral.status.value,
        referral.create_time,
        referral.update_time,
        referral.version,
        sealed.status_reason,
        category.value if category is not None else None,
        sealed.outcome,
    )


def _party_values(party: Party) -> tuple[str, str, str, str | None]:
    return (party.kind.value, party.organization_id, party.display_name, party.practitioner_id)


def referral_from_row(row: asyncpg.Record, opened: Texts[str]) -> Referral:
    category = row["status_reason_category"]
    return Referral(
        referral_id=row["referral_id"],
        request_id=row["request_id"],
        subject_member_id=row["subject_member_id"],
        direction=Direction(row["direction"]),
        category=Category(row["category"]),
        priority=Priority(row["priority"]),
        reason=opened.reason,
        requester=_party_from_row(row, "requester"),
        recipient=_party_from_row(row, "recipient"),
        status=Status(row["status"]),
        create_time=row["create_time"],
        update_time=row["update_time"],
        version=row["version"],
        status_reason=opened.status_reason,
        status_reason_category=StatusReasonCategory(category) if category is not None else None,
        outcome=opened.outcome,
    )


def _party_from_row(row: asyncpg.Record, side: str) -> Party:
    return Party(
        kind=PartyKind(row[f"{side}_kind"]),
        organization_id=row[f"{side}_organization_id"],
        display_name=row[f"{side}_display_name"],
        practitioner_id=row[f"{side}_practitioner_id"],
    )
