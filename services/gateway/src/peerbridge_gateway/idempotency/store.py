"""The idempotency store port: claim a key, record its response, release it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class KeyScope:
    """Keys belong to a caller: two callers never see each other's."""

    caller: str
    key: str


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class KeyRecord:
    fingerprint: str
    # None while the first request is still in progress.
    response: StoredResponse | None


class IdempotencyStore(Protocol):
    async def claim(
        self,
        scope: KeyScope,
        fingerprint: str,
        token: UUID,
        *,
        lease_s: float,
        retention_s: float,
    ) -> bool:
        """Make the key ours (in progress, owned by `token`); False when someone holds it.

        An expired key is claimed afresh. An unfinished key claimed more than
        `lease_s` ago with the same fingerprint is taken over: its owner died.
        """
        ...

    async def find(self, scope: KeyScope) -> KeyRecord | None:
        """The live (unexpired) record of a key, if any."""
        ...

    async def complete(self, scope: KeyScope, token: UUID, response: StoredResponse) -> bool:
        """Record the response of our claim; False when the claim is no longer ours."""
        ...

    async def release(self, scope: KeyScope, token: UUID) -> None:
        """Forget our unfinished claim, so a retry can run."""
        ...

    async def purge_expired(self, batch: int) -> int:
        """Delete up to `batch` expired keys; return how many."""
        ...

    async def ping(self) -> None:
        """Raise when the store cannot be reached."""
        ...
