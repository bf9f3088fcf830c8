"""Password hashing with argon2id (RFC 9106's second recommended option, 64 MiB).

Hashing takes tens of milliseconds of CPU on purpose, so it runs in a worker
thread and the event loop keeps serving other calls meanwhile.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Hasher:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
        # Verified against when the username is unknown, so that takes as long as a real check.
        self._decoy = self._hasher.hash("decoy password for unknown usernames")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    async def waste_time(self, password: str) -> None:
        await asyncio.to_thread(self._verify, self._decoy, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
