"""Signing keys in PostgreSQL, their private halves sealed with the platform keyring."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from peerbridge_platform.auth import KeySet, SigningKey
from peerbridge_platform.crypto import Keyring, field_context

from ..domain.signing_keys import KeyLifetime, published

# Any constant shared by every instance: start-up and rotation take it, so two
# instances never both create or both rotate.
_ADVISORY_LOCK = 0x1D_5167_0001
ALGORITHM = "EdDSA"


class PostgresSigningKeys:
    """`publish_ahead`: how long a new key is published before it signs (see
    domain/signing_keys.py); at least the verifiers' minimum JWKS refresh interval."""

    def __init__(
        self, pool: asyncpg.Pool, keyring: Keyring, publish_ahead: timedelta = timedelta(0)
    ) -> None:
        self._pool = pool
        self._keyring = keyring
        self._publish_ahead = publish_ahead

    async def ensure_active(self, now: datetime) -> bool:
        """Create a key when none is active; True when this call created it."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK)
            if await connection.fetchval("SELECT 1 FROM signing_keys WHERE retired_at IS NULL"):
                return False
            await self._insert(connection, SigningKey.generate(ALGORITHM), now, now)
            return True

    async def rotate(self, now: datetime) -> str:
        """A new key, published now, signing from `now + publish_ahead`, when the key it
        replaces retires. Returns the new kid."""
        key = SigningKey.generate(ALGORITHM)
        activates = now + self._publish_ahead
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK)
            await connection.execute(
                "UPDATE signing_keys SET retired_at = greatest($1, activated_at) "
                "WHERE retired_at IS NULL",
                activates,
            )
            await self._insert(connection, key, now, activates)
        return key.kid

    async def load(self, now: datetime, grace: timedelta) -> KeySet:
        """The active key and the retired keys still within `grace`."""
        rows = await self._pool.fetch(
            "SELECT kid, private_key_sealed, activated_at, retired_at FROM signing_keys "
            "WHERE retired_at IS NULL OR retired_at > $1",
            now - grace,
        )
        by_kid = {row["kid"]: row for row in rows}
        lifetimes = [
            KeyLifetime(row["kid"], row["activated_at"], row["retired_at"]) for row in rows
        ]
        chosen = published(lifetimes, now, grace)
        if not chosen or not chosen[0].signs_at(now):
            raise LookupError("no signing key is active; start-up creates one")
        keys = [self._open(by_kid[key.kid]) for key in chosen]
        return KeySet(keys[0], tuple(key.verification_key() for key in keys[1:]))

    async def _insert(
        self, connection: PoolConnectionProxy, key: SigningKey, now: datetime, activates: datetime
    ) -> None:
        sealed = self._keyring.encrypt(key.to_pem(), context=_context(key.kid))
        await connection.execute(
            "INSERT INTO signing_keys (kid, algorithm, private_key_sealed, created_at, "
            "activated_at) VALUES ($1, $2, $3, $4, $5)",
            key.kid,
            key.algorithm,
            sealed,
            now,
            activates,
        )

    def _open(self, row: asyncpg.Record) -> SigningKey:
        pem = self._keyring.decrypt(row["private_key_sealed"], context=_context(row["kid"]))
        return SigningKey.from_pem(pem, algorithm=ALGORITHM, kid=row["kid"])


def _context(kid: str) -> bytes:
    return field_context("identity", "signing_keys", "private_key", kid)
