"""Domain errors that every layer may raise; entry points map them to wire codes.

Pure Python on purpose: a service's domain raises these without importing
gRPC or HTTP, and the gRPC interceptor turns each into its canonical status.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass
class DomainError(Exception):
    message: str
    violations: list[FieldViolation] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


class InvalidArgument(DomainError):
    """The request is malformed or breaks a rule about its own values."""


class NotFound(DomainError):
    """No such object, or the caller may not know whether it exists."""


class AlreadyExists(DomainError):
    """The object to create is there already."""


class FailedPrecondition(DomainError):
    """The object is not in a state that allows the operation."""


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""


class Unauthenticated(DomainError):
    """The caller did not prove who they are."""


class ResourceExhausted(DomainError):
    """Too many attempts: the caller must wait (`retry_after_s`) before trying again."""

    retry_after_s: int = 60

    def __init__(self, message: str, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Conflict(DomainError):
    """A concurrent change or a reused idempotency key with another request."""
