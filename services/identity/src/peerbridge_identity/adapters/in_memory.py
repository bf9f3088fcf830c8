"""In-memory unit of work and repositories, for unit tests and wiring without a database.

They keep the promises of the asyncpg adapters (the same contract tests run
against both): changes and events become visible to others only on commit,
request ids are unique per operation, listings are ordered by id. Locks are
not needed: without real I/O, nothing interleaves inside one transaction.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Generic, TypeVar
from uuid import UUID

from ..domain.access_rules import Access
from ..domain.credentials import PasswordCredential, username_key
from ..domain.eligibility import EligibilityState
from ..domain.events import DomainEvent
from ..domain.model import Certification, Client, Organization, Person, Supervision, TrainingRecord
from ..domain.patients import PatientLink
from ..domain.values import EligibilityStatus
from ..service_layer.repository import (
    CertificationRepository,
    ClientRepository,
    CredentialRepository,
    DuplicateRequestId,
    EligibilityRepository,
    IdentifierTaken,
    OrganizationRepository,
    PatientLinkRepository,
    PersonRepository,
    RecordedRequest,
    RequestLog,
    StaleWrite,
    SupervisionRepository,
    TrainingRepository,
)
from ..service_layer.unit_of_work import UnitOfWork

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class InMemoryStore:
    """What has been committed; shared by every unit of work made over it."""

    organizations: dict[UUID, Organization] = field(default_factory=dict)
    persons: dict[UUID, Person] = field(default_factory=dict)
    clients: dict[UUID, Client] = field(default_factory=dict)
    passwords: dict[UUID, PasswordCredential] = field(default_factory=dict)
    # Each client's keys, oldest first: (kid, public JWK).
    client_keys: dict[UUID, tuple[tuple[str, dict[str, str]], ...]] = field(default_factory=dict)
    # Why each person's sessions were last ended.
    ended_sessions: dict[UUID, str] = field(default_factory=dict)
    training: dict[UUID, TrainingRecord] = field(default_factory=dict)
    certifications: dict[UUID, Certification] = field(default_factory=dict)
    supervision: dict[UUID, Supervision] = field(default_factory=dict)
    eligibility: dict[UUID, EligibilityState] = field(default_factory=dict)
    requests: dict[tuple[str, str], RecordedRequest] = field(default_factory=dict)
    # Identifier systems and their organization; patient links by (system, value).
    patient_systems: dict[str, UUID] = field(default_factory=dict)
    patient_links: dict[tuple[str, str], PatientLink] = field(default_factory=dict)
    published: list[DomainEvent] = field(default_factory=list)
    commits: int = 0
    # The audit trail: allowed accesses as they commit, refusals at once.
    audited: list[Access] = field(default_factory=list)
    denied: list[Access] = field(default_factory=list)


class Overlay(Generic[K, V]):
    """One transaction's view of a committed table: its own changes over what is committed."""

    def __init__(self, committed: dict[K, V]) -> None:
        self._committed = committed
        self._changes: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._changes[key] if key in self._changes else self._committed.get(key)

    def put(self, key: K, value: V) -> None:
        self._changes[key] = value

    def values(self) -> list[V]:
        return list((self._committed | self._changes).values())

    def apply(self) -> None:
        self._committed.update(self._changes)
        self._changes = {}


class _Repository(Generic[K, V]):
    def __init__(self, rows: Overlay[K, V]) -> None:
        self._rows = rows

    def _add(self, key: K, value: V) -> None:
        if self._rows.get(key) is not None:
            raise ValueError(f"{key} exists")
        self._rows.put(key, value)


class InMemoryOrganizationRepository(OrganizationRepository, _Repository[UUID, Organization]):
    async def add(self, organization: Organization) -> None:
        self._add(organization.organization_id, organization)

    async def get(self, organization_id: UUID) -> Organization | None:
        return self._rows.get(organization_id)


class InMemoryPersonRepository(PersonRepository, _Repository[UUID, Person]):
    async def add(self, person: Person) -> None:
        self._add(person.person_id, person)

    async def get(self, person_id: UUID) -> Person | None:
        return self._rows.get(person_id)

    async def lock(self, person_ids: Iterable[UUID]) -> dict[UUID, Person]:
        found = {person_id: self._rows.get(person_id) for person_id in set(person_ids)}
        return {person_id: person for person_id, person in found.items() if person is not None}

    async def update(self, person: Person) -> None:
        stored = self._rows.get(person.person_id)
        if stored is None or stored.version != person.version - 1:
            raise StaleWrite(f"person {person.person_id} changed since it was read")
        self._rows.put(person.person_id, person)


class InMemoryClientRepository(ClientRepository, _Repository[UUID, Client]):
    async def add(self, client: Client) -> None:
        self._add(client.client_id, client)

    async def get(self, client_id: UUID) -> Client | None:
        return self._rows.get(client_id)


class InMemoryCredentialRepository(CredentialRepository):
    def __init__(
        self,
        passwords: Overlay[UUID, PasswordCredential],
        client_keys: Overlay[UUID, tuple[tuple[str, dict[str, str]], ...]],
        ended_sessions: Overlay[UUID, str],
    ) -> None:
        self._passwords = passwords
        self._client_keys = client_keys
        self._ended_sessions = ended_sessions

    async def password_of(self, person_id: UUID) -> PasswordCredential | None:
        return self._passwords.get(person_id)

    async def username_owner(self, key: str) -> UUID | None:
        credentials = self._passwords.values()
        return next((c.person_id for c in credentials if username_key(c.username) == key), None)

    async def put_password(self, credential: PasswordCredential, key: str) -> None:
        self._passwords.put(credential.person_id, credential)

    async def end_sessions(self, person_id: UUID, now: datetime, reason: str) -> int:
        # Refresh token families live in the token endpoint's store, not here.
        self._ended_sessions.put(person_id, reason)
        return 0

    async def client_key_ids(self, client_id: UUID) -> list[str]:
        return [kid for kid, _ in self._client_keys.get(client_id) or ()]

    async def add_client_key(
        self, client_id: UUID, kid: str, public_jwk: dict[str, str], now: datetime
    ) -> bool:
        keys = self._client_keys.get(client_id) or ()
        if any(existing == kid for existing, _ in keys):
            return False
        self._client_keys.put(client_id, (*keys, (kid, public_jwk)))
        return True

    async def remove_client_key(self, client_id: UUID, kid: str) -> bool:
        keys = self._client_keys.get(client_id) or ()
        kept = tuple(key for key in keys if key[0] != kid)
        self._client_keys.put(client_id, kept)
        return len(kept) < len(keys)


class InMemoryTrainingRepository(TrainingRepository, _Repository[UUID, TrainingRecord]):
    async def add(self, record: TrainingRecord) -> None:
        self._add(record.training_record_id, record)

    async def get(self, training_record_id: UUID) -> TrainingRecord | None:
        return self._rows.get(training_record_id)

    async def for_person(self, person_id: UUID) -> list[TrainingRecord]:
        found = [r for r in self._rows.values() if r.person_id == person_id]
        return sorted(found, key=lambda r: (r.completed_on, r.training_record_id))


class InMemoryCertificationRepository(CertificationRepository, _Repository[UUID, Certification]):
    async def add(self, certification: Certification) -> None:
        self._add(certification.certification_id, certification)

    async def get(self, certification_id: UUID) -> Certification | None:
        return self._rows.get(certification_id)

    async def update(self, certification: Certification) -> None:
        self._rows.put(certification.certification_id, certification)

    async def for_person(self, person_id: UUID) -> list[Certification]:
        found = [c for c in self._rows.values() if c.person_id == person_id]
        return sorted(found, key=lambda c: (c.valid_from, c.certification_id))


class InMemorySupervisionRepository(SupervisionRepository, _Repository[UUID, Supervision]):
    async def get(self, supporter_id: UUID) -> Supervision | None:
        return self._rows.get(supporter_id)

    async def put(self, supervision: Supervision) -> None:
        self._rows.put(supervision.supporter_id, supervision)

    async def supervises_anyone(self, supervisor_id: UUID) -> bool:
        return any(s.supervisor_id == supervisor_id for s in self._rows.values())


def _eligible_on(state: EligibilityState, today: date) -> bool:
    return state.status is not EligibilityStatus.INELIGIBLE and (
        state.lapses_on is None or state.lapses_on > today
    )


class InMemoryEligibilityRepository(EligibilityRepository, _Repository[UUID, EligibilityState]):
    async def get(self, person_id: UUID) -> EligibilityState | None:
        return self._rows.get(person_id)

    async def put(self, state: EligibilityState) -> None:
        self._rows.put(state.person_id, state)

    async def lock_due(self, today: date, limit: int) -> list[UUID]:
        due = [s for s in self._rows.values() if s.review_on is not None and s.review_on <= today]
        due.sort(key=lambda s: (s.review_on, s.person_id))
        return [s.person_id for s in due[:limit]]

    async def list_eligible(
        self, today: date, organization_id: UUID | None, *, after: UUID | None, limit: int
    ) -> list[EligibilityState]:
        found = [
            s
            for s in self._rows.values()
            if _eligible_on(s, today)
            and (organization_id is None or s.organization_id == organization_id)
            and (after is None or s.person_id > after)
        ]
        found.sort(key=lambda s: s.person_id)
        return found[:limit]


class InMemoryRequestLog(RequestLog, _Repository[tuple[str, str], RecordedRequest]):
    async def find(self, operation: str, request_id: str) -> RecordedRequest | None:
        return self._rows.get((operation, request_id))

    async def add(
        self, operation: str, request_id: str, fingerprint: str, resource_id: UUID
    ) -> None:
        if self._rows.get((operation, request_id)) is not None:
            raise DuplicateRequestId(operation, request_id)
        self._rows.put((operation, request_id), RecordedRequest(fingerprint, resource_id))


class InMemoryPatientLinkRepository(PatientLinkRepository):
    def __init__(
        self, systems: Overlay[str, UUID], links: Overlay[tuple[str, str], PatientLink]
    ) -> None:
        self._systems = systems
        self._links = links

    async def system_owner(self, system: str) -> UUID | None:
        return self._systems.get(system)

    async def claim_system(self, system: str, organization_id: UUID, now: datetime) -> None:
        if self._systems.get(system) is not None:
            raise IdentifierTaken(system)
        self._systems.put(system, organization_id)

    async def find(self, system: str, value: str) -> PatientLink | None:
        return self._links.get((system, value))

    async def add(self, link: PatientLink) -> None:
        if self._links.get((link.system, link.value)) is not None:
            raise IdentifierTaken(link.system)
        self._links.put((link.system, link.value), link)


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self._overlays: list[Overlay[object, object]] = []
        self._pending_events: list[DomainEvent] = []
        self._pending_accesses: list[Access] = []

    def _overlay(self, committed: dict[K, V]) -> Overlay[K, V]:
        overlay = Overlay(committed)
        self._overlays.append(overlay)  # type: ignore[arg-type]
        return overlay

    async def _begin(self) -> None:
        store, self._overlays, self._pending_events = self.store, [], []
        self._pending_accesses = []
        self.organizations = InMemoryOrganizationRepository(self._overlay(store.organizations))
        self.persons = InMemoryPersonRepository(self._overlay(store.persons))
        self.clients = InMemoryClientRepository(self._overlay(store.clients))
        self.credentials = InMemoryCredentialRepository(
            self._overlay(store.passwords),
            self._overlay(store.client_keys),
            self._overlay(store.ended_sessions),
        )
        self.training = InMemoryTrainingRepository(self._overlay(store.training))
        self.certifications = InMemoryCertificationRepository(self._overlay(store.certifications))
        self.supervision = InMemorySupervisionRepository(self._overlay(store.supervision))
        self.eligibility = InMemoryEligibilityRepository(self._overlay(store.eligibility))
        self.requests = InMemoryRequestLog(self._overlay(store.requests))
        self.patients = InMemoryPatientLinkRepository(
            self._overlay(store.patient_systems), self._overlay(store.patient_links)
        )

    async def _end(self) -> None:
        self._overlays, self._pending_events, self._pending_accesses = [], [], []

    async def publish(self, event: DomainEvent) -> None:
        self._pending_events.append(event)

    async def record_access(self, access: Access) -> None:
        self._pending_accesses.append(access)

    async def record_denied(self, access: Access) -> None:
        self.store.denied.append(access)

    async def commit(self) -> None:
        for overlay in self._overlays:
            overlay.apply()
        self.store.published.extend(self._pending_events)
        self.store.audited.extend(self._pending_accesses)
        self.store.commits += 1
        self._overlays, self._pending_events, self._pending_accesses = [], [], []
