"""Patient links kept in memory behind the port: for tests and for running the gateway alone.

It keeps what the gateway relies on (one member per identifier, linked on a second call);
identity's access rule is tested there and through the gateway in the integration tests.
A test makes it fail with `failures`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from peerbridge_platform.grpc import Caller

from .patients import PatientQuery, Resolution, ResolvedPatient


@dataclass
class InMemoryPatients:
    # Member id by (system, value).
    links: dict[tuple[str, str], str] = field(default_factory=dict)
    # Every query received, in order.
    queries: list[PatientQuery] = field(default_factory=list)
    # The next calls raise these, in order.
    failures: list[Exception] = field(default_factory=list)

    async def resolve_patient(self, query: PatientQuery, *, caller: Caller) -> ResolvedPatient:
        if self.failures:
            raise self.failures.pop(0)
        self.queries.append(query)
        key = (query.system, query.value)
        if key in self.links:
            return ResolvedPatient(self.links[key], Resolution.LINKED)
        self.links[key] = str(uuid.uuid4())
        return ResolvedPatient(self.links[key], Resolution.ENROLLED)
