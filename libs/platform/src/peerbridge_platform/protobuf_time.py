"""Timestamps of protobuf messages, read the one way every service needs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def optional_time(message: Any, field: str) -> datetime | None:
    """`message.field` as an aware UTC datetime, or None when the field is not set (an unset
    Timestamp would otherwise read as 1970)."""
    if not message.HasField(field):
        return None
    moment: datetime = getattr(message, field).ToDatetime(tzinfo=UTC)
    return moment
