"""Referral ⇄ row of the `referrals` table.

The reason is stored sealed (`reason_ciphertext`); these functions take and
give it sealed, and the repository seals and opens it.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ..domain.model import Referral
from ..domain.values import Category, Direction, Party, PartyKind, Priority, Status

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
)
SELECT_COLUMNS = ", ".join(COLUMNS)


def row_values(referral: Referral, sealed_reason: bytes) -> tuple[Any, ...]:
    """The values of `COLUMNS`, in order."""
    return (
        referral.referral_id,
        referral.request_id,
        referral.subject_member_id,
        referral.direction.value,
        referral.category.value,
        referral.priority.value,
        sealed_reason,
        *_party_values(referral.requester),
        *_party_values(referral.recipient),
        referral.status.value,
        referral.create_time,
        referral.update_time,
        referral.version,
    )


def _party_values(party: Party) -> tuple[str, str, str, str | None]:
    return (party.kind.value, party.organization_id, party.display_name, party.practitioner_id)


def referral_from_row(row: asyncpg.Record, reason: str) -> Referral:
    return Referral(
        referral_id=row["referral_id"],
        request_id=row["request_id"],
        subject_member_id=row["subject_member_id"],
        direction=Direction(row["direction"]),
        category=Category(row["category"]),
        priority=Priority(row["priority"]),
        reason=reason,
        requester=_party_from_row(row, "requester"),
        recipient=_party_from_row(row, "recipient"),
        status=Status(row["status"]),
        create_time=row["create_time"],
        update_time=row["update_time"],
        version=row["version"],
    )


def _party_from_row(row: asyncpg.Record, side: str) -> Party:
    return Party(
        kind=PartyKind(row[f"{side}_kind"]),
        organization_id=row[f"{side}_organization_id"],
        display_name=row[f"{side}_display_name"],
        practitioner_id=row[f"{side}_practitioner_id"],
    )
