"""The storage ports: how handlers store and find things, whatever the storage.

Writers that change a person or what their eligibility rests on first take
the person's lock (`persons.lock`), so two changes to one supporter, or a
change and the scheduled review, never assess the same supporter at once.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from peerbridge_platform.errors import Conflict

from ..domain.credentials import PasswordCredential
from ..domain.eligibility import EligibilityState
from ..domain.model import Certification, Client, Organization, Person, Supervision, TrainingRecord
from ..domain.patients import PatientLink


class DuplicateRequestId(Exception):
    """Another request with this operation and request id exists (maybe committed a moment ago)."""

    def __init__(self, operation: str, request_id: str) -> None:
        super().__init__(f"{operation} request id {request_id!r} was used before")
        self.operation = operation
        self.request_id = request_id


class StaleWrite(Conflict):
    """The stored object changed since it was read (its version moved on); worth a retry."""


@dataclass(frozen=True)
class RecordedRequest:
    fingerprint: str
    resource_id: UUID


class RequestLog(abc.ABC):
    """Idempotency keys of create requests, per operation."""

    @abc.abstractmethod
    async def find(self, operation: str, request_id: str) -> RecordedRequest | None: ...

    @abc.abstractmethod
    async def add(
        self, operation: str, request_id: str, fingerprint: str, resource_id: UUID
    ) -> None:
        """Record a request; DuplicateRequestId when the key is taken."""


class OrganizationRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, organization: Organization) -> None: ...

    @abc.abstractmethod
    async def get(self, organization_id: UUID) -> Organization | None: ...


class PersonRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, person: Person) -> None: ...

    @abc.abstractmethod
    async def get(self, person_id: UUID) -> Person | None: ...

    @abc.abstractmethod
    async def lock(self, person_ids: Iterable[UUID]) -> dict[UUID, Person]:
        """The persons that exist among `person_ids`, locked until the transaction ends.

        Locks are taken in id order, so two transactions locking the same
        people never deadlock.
        """

    @abc.abstractmethod
    async def update(self, person: Person) -> None:
        """Store `person`, whose version is one more than the stored one; else StaleWrite."""


class ClientRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, client: Client) -> None: ...

    @abc.abstractmethod
    async def get(self, client_id: UUID) -> Client | None: ...


class CredentialRepository(abc.ABC):
    """People's passwords and partner clients' public keys."""

    @abc.abstractmethod
    async def password_of(self, person_id: UUID) -> PasswordCredential | None: ...

    @abc.abstractmethod
    async def username_owner(self, username_key: str) -> UUID | None: ...

    @abc.abstractmethod
    async def put_password(self, credential: PasswordCredential, username_key: str) -> None:
        """Store the person's credential, replacing theirs; failures and lock start over."""

    @abc.abstractmethod
    async def end_sessions(self, person_id: UUID, now: datetime, reason: str) -> int:
        """Revoke every refresh token family of the person; returns how many."""

    @abc.abstractmethod
    async def client_key_ids(self, client_id: UUID) -> list[str]: ...

    @abc.abstractmethod
    async def add_client_key(
        self, client_id: UUID, kid: str, public_jwk: dict[str, str], now: datetime
    ) -> bool:
        """False when the client has this key already."""

    @abc.abstractmethod
    async def remove_client_key(self, client_id: UUID, kid: str) -> bool: ...


class TrainingRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, record: TrainingRecord) -> None: ...

    @abc.abstractmethod
    async def get(self, training_record_id: UUID) -> TrainingRecord | None: ...

    @abc.abstractmethod
    async def for_person(self, person_id: UUID) -> list[TrainingRecord]:
        """Every record of the person, oldest completion first."""


class CertificationRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, certification: Certification) -> None: ...

    @abc.abstractmethod
    async def get(self, certification_id: UUID) -> Certification | None: ...

    @abc.abstractmethod
    async def update(self, certification: Certification) -> None: ...

    @abc.abstractmethod
    async def for_person(self, person_id: UUID) -> list[Certification]:
        """Every certification of the person, earliest valid_from first."""


class SupervisionRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, supporter_id: UUID) -> Supervision | None: ...

    @abc.abstractmethod
    async def put(self, supervision: Supervision) -> None:
        """Store the supporter's supervision, replacing any earlier one."""

    @abc.abstractmethod
    async def supervises_anyone(self, supervisor_id: UUID) -> bool: ...


class EligibilityRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, person_id: UUID) -> EligibilityState | None: ...

    @abc.abstractmethod
    async def put(self, state: EligibilityState) -> None:
        """Store the supporter's state, replacing any earlier one."""

    @abc.abstractmethod
    async def lock_due(self, today: date, limit: int) -> list[UUID]:
        """Up to `limit` supporters whose review day has come, their person rows locked.

        Supporters another transaction holds are skipped, so concurrent
        reviewers (several replicas) share the work instead of waiting.
        """

    @abc.abstractmethod
    async def list_eligible(
        self, today: date, organization_id: UUID | None, *, after: UUID | None, limit: int
    ) -> list[EligibilityState]:
        """Supporters eligible on `today` (ELIGIBLE or EXPIRING_SOON, not lapsed),
        by person id, strictly after `after`."""


class IdentifierTaken(Exception):
    """A concurrent transaction linked this identifier (or claimed this system) first: start
    over, and the next attempt finds what it stored."""


class PatientLinkRepository(abc.ABC):
    """Clinics' patient identifiers and the organization each identifier system belongs to."""

    @abc.abstractmethod
    async def system_owner(self, system: str) -> UUID | None: ...

    @abc.abstractmethod
    async def claim_system(self, system: str, organization_id: UUID, now: datetime) -> None:
        """Record that `system` belongs to `organization_id`; IdentifierTaken if claimed."""

    @abc.abstractmethod
    async def find(self, system: str, value: str) -> PatientLink | None: ...

    @abc.abstractmethod
    async def add(self, link: PatientLink) -> None:
        """IdentifierTaken when (system, value) is linked already."""
