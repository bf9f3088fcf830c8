"""Domain events: facts about identities, named in the past tense."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .values import EligibilityChange, EligibilityStatus, Role

if TYPE_CHECKING:
    from .eligibility import EligibilityState
    from .model import Client, Organization, Person


class DomainEvent:
    """Base of every identity domain event."""


@dataclass(frozen=True)
class OrganizationRegistered(DomainEvent):
    organization: Organization


@dataclass(frozen=True)
class PersonRegistered(DomainEvent):
    person: Person


@dataclass(frozen=True)
class ProfileUpdated(DomainEvent):
    person: Person
    changed_fields: tuple[str, ...]


@dataclass(frozen=True)
class RoleGranted(DomainEvent):
    person: Person  # after the grant
    role: Role


@dataclass(frozen=True)
class RoleRevoked(DomainEvent):
    person: Person  # after the revocation
    role: Role


@dataclass(frozen=True)
class ClientRegistered(DomainEvent):
    client: Client


@dataclass(frozen=True)
class SupporterEligibilityChanged(DomainEvent):
    state: EligibilityState  # after the change
    previous_status: EligibilityStatus
    change: EligibilityChange
