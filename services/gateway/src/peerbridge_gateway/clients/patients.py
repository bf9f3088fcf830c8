"""The patients port: a clinic's patient identifier to the member it is linked to, or a newly
enrolled one, as the gateway asks identity for it (PatientLinkService), in its own types.

Who may resolve which identifier system is identity's rule; the gateway forwards the
caller's token and learns only the member's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from peerbridge_platform.grpc import Caller


class Resolution(StrEnum):
    LINKED = "linked"
    ENROLLED = "enrolled"


@dataclass(frozen=True)
class PatientQuery:
    system: str
    value: str
    # The peer support program a new member joins (the referral's recipient).
    program_id: str
    given_name: str = ""
    birth_date: date | None = None
    language: str = ""


@dataclass(frozen=True)
class ResolvedPatient:
    member_id: str
    resolution: Resolution


class PatientsClient(Protocol):
    async def resolve_patient(self, query: PatientQuery, *, caller: Caller) -> ResolvedPatient:
        """The member; ServiceError when identity refuses (403 for a system of another
        organization, 400 naming the bad fields)."""
        ...
