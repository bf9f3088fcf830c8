"""The emergency disclosures port: break-the-glass records, whatever the storage (the nature
of the emergency and the review note sealed at rest in PostgreSQL)."""

from __future__ import annotations

import abc
from uuid import UUID

from ..domain.emergency import EmergencyDisclosure
from .repository import Cursor


class ConcurrentReview(Exception):
    """Someone else reviewed the record between its read and this review."""


class EmergencyDisclosureRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, record: EmergencyDisclosure) -> None: ...

    @abc.abstractmethod
    async def get(self, emergency_disclosure_id: UUID) -> EmergencyDisclosure | None: ...

    @abc.abstractmethod
    async def get_by_request_id(
        self, recipient_person_id: str, request_id: str
    ) -> EmergencyDisclosure | None: ...

    @abc.abstractmethod
    async def mark_reviewed(self, record: EmergencyDisclosure) -> None:
        """Store the review of `record` (already reviewed in the domain)."""

    @abc.abstractmethod
    async def list_for_program(
        self,
        organization_id: str,
        *,
        unreviewed_only: bool,
        after: Cursor | None,
        limit: int,
    ) -> list[EmergencyDisclosure]:
        """Newest first; `after` holds the last record's time and id (in `referral_id`)."""
