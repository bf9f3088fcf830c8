"""Who a verified token says the caller is: roles, scopes and organisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """The roles a person (or a partner client) can hold on the platform."""

    MEMBER = "member"
    PEER_SUPPORTER = "peer_supporter"
    CLINICIAN = "clinician"
    COORDINATOR = "coordinator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    PARTNER_CLIENT = "partner_client"


@dataclass(frozen=True)
class Principal:
    """A caller whose access token was verified; built only by a verifier."""

    subject: str
    roles: frozenset[Role]
    scopes: frozenset[str]
    organization_id: str | None
    client_id: str | None
    token_id: str
    expires_at: datetime

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def has_scopes(self, *scopes: str) -> bool:
        return set(scopes) <= self.scopes
