"""Create requests that may be retried: the same request id and content yield the same object."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from peerbridge_platform.auth import current_principal
from peerbridge_platform.errors import Conflict

from .repository import DuplicateRequestId
from .unit_of_work import UnitOfWork

T = TypeVar("T")

Load = Callable[[UnitOfWork, UUID], Awaitable[T | None]]
# Writes the new object and its events inside the open unit of work; returns it and its id.
Create = Callable[[UnitOfWork], Awaitable[tuple[T, UUID]]]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_plain(item) for item in value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID | date | datetime):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    return value


def fingerprint(details: object) -> str:
    """A stable digest of a request's checked content (the same in every process)."""
    text = json.dumps(_plain(details), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def _earlier(
    uow: UnitOfWork, operation: str, request_id: str, digest: str, load: Load[T]
) -> T | None:
    recorded = await uow.requests.find(operation, request_id)
    if recorded is None:
        return None
    if recorded.fingerprint != digest:
        raise Conflict("request_id was already used for a different request")
    found = await load(uow, recorded.resource_id)
    if found is None:
        raise RuntimeError(f"{operation} {recorded.resource_id} of a recorded request is missing")
    return found


def _per_caller(operation: str) -> str:
    """Request ids are the caller's own: another caller's id is another request, so a
    replay can never hand over an object its rules would hide from the caller."""
    principal = current_principal()
    who = (principal.client_id or principal.subject) if principal else "anonymous"
    return f"{operation}:{who}"


async def create_once(
    uow: UnitOfWork,
    *,
    operation: str,
    request_id: str | None,
    details: object,
    load: Load[T],
    create: Create[T],
) -> tuple[T, bool]:
    """The created object and True, or the one an earlier call of the same caller created
    and False."""
    digest = fingerprint(details)
    operation = _per_caller(operation)
    try:
        async with uow:
            if request_id is not None:
                earlier = await _earlier(uow, operation, request_id, digest, load)
                if earlier is not None:
                    return earlier, False
            created, resource_id = await create(uow)
            if request_id is not None:
                await uow.requests.add(operation, request_id, digest, resource_id)
            await uow.commit()
            return created, True
    except DuplicateRequestId:
        # A concurrent call with this request id committed first: answer with its object.
        assert request_id is not None
        async with uow:
            earlier = await _earlier(uow, operation, request_id, digest, load)
        if earlier is None:
            raise
        return earlier, False
