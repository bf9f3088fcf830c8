"""What a failed call to a service looks like to the rest of the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from peerbridge_platform.errors import FieldViolation


@dataclass
class ServiceError(Exception):
    """A service answered with a non-OK canonical status (or could not be reached).

    `violations` name fields as the gateway's HTTP API spells them.
    """

    service: str
    code: grpc.StatusCode
    message: str
    violations: list[FieldViolation] = field(default_factory=list)
    # Seconds to wait before retrying, from the `retry-after` trailing metadata.
    retry_after_s: int | None = None

    def __str__(self) -> str:
        return f"{self.service}: {self.code.name}: {self.message}"


class NotServing(Exception):
    """A service's health check did not say SERVING; the message says what it said."""
