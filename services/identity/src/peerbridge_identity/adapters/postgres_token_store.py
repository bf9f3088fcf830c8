"""The token endpoint's storage on PostgreSQL: each method is one short transaction,
so every instance of the service shares counters, lockouts and refresh tokens."""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from peerbridge_platform.auth import KeyFormatError, VerificationKey

from ..domain.credentials import (
    Account,
    LockoutPolicy,
    PasswordCredential,
    ThrottlePolicy,
)
from ..domain.model import Client
from ..domain.values import Role
from ..service_layer.token_ports import (
    ExchangeOutcome,
    PersonAccess,
    RefreshExchange,
    RefreshTimes,
)
from .postgres_people import client_from_row


class PostgresTokenStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def throttled(self, address: str, now: datetime, policy: ThrottlePolicy) -> int | None:
        row = await self._pool.fetchrow(
            "SELECT window_start, attempts FROM sign_in_throttle WHERE address = $1", address
        )
        if row is None:
            return None
        return policy.retry_after(row["window_start"], row["attempts"], now)

    async def count_failure(self, address: str, now: datetime, policy: ThrottlePolicy) -> None:
        # A window that has passed starts again at one; the upsert settles races.
        await self._pool.execute(
            "INSERT INTO sign_in_throttle AS t (address, window_start, attempts) "
            "VALUES ($1, $2, 1) ON CONFLICT (address) DO UPDATE SET "
            "window_start = CASE WHEN t.window_start + $3 <= $2 THEN $2 ELSE t.window_start END, "
            "attempts = CASE WHEN t.window_start + $3 <= $2 THEN 1 ELSE t.attempts + 1 END",
            address,
            now,
            policy.window,
        )

    async def purge_throttle(self, before: datetime) -> int:
        result = await self._pool.execute(
            "DELETE FROM sign_in_throttle WHERE window_start < $1", before
        )
        return int(result.rsplit(" ", 1)[-1])

    async def account(self, username_key: str) -> Account | None:
        row = await self._pool.fetchrow(
            "SELECT c.*, p.roles, p.organization_id FROM password_credentials c "
            "JOIN persons p USING (person_id) WHERE c.username_key = $1",
            username_key,
        )
        if row is None:
            return None
        return Account(
            credential=credential_from_row(row),
            roles=frozenset(Role(role) for role in row["roles"]),
            organization_id=row["organization_id"],
        )

    async def record_wrong_password(
        self, person_id: UUID, now: datetime, policy: LockoutPolicy
    ) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            failures = await connection.fetchval(
                "UPDATE password_credentials SET failed_attempts = failed_attempts + 1 "
                "WHERE person_id = $1 RETURNING failed_attempts",
                person_id,
            )
            if failures is None:
                return
            locked_until = policy.lock_until(failures, now)
            if locked_until is not None:
                # A new lock period starts the count again.
                await connection.execute(
                    "UPDATE password_credentials SET locked_until = $2, failed_attempts = 0 "
                    "WHERE person_id = $1",
                    person_id,
                    locked_until,
                )

    async def record_sign_in(self, person_id: UUID) -> None:
        await self._pool.execute(
            "UPDATE password_credentials SET failed_attempts = 0, locked_until = NULL "
            "WHERE person_id = $1",
            person_id,
        )

    async def person_access(self, person_id: UUID) -> PersonAccess | None:
        row = await self._pool.fetchrow(
            "SELECT roles, organization_id FROM persons WHERE person_id = $1", person_id
        )
        if row is None:
            return None
        return PersonAccess(frozenset(Role(r) for r in row["roles"]), row["organization_id"])

    async def start_family(
        self, person_id: UUID, scopes: frozenset[str], first_digest: bytes, times: RefreshTimes
    ) -> UUID:
        family_id = uuid4()
        family_expires = times.now + times.family_lifetime
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO refresh_token_families "
                "(family_id, person_id, scopes, create_time, expire_time) "
                "VALUES ($1, $2, $3, $4, $5)",
                family_id,
                person_id,
                sorted(scopes),
                times.now,
                family_expires,
            )
            await connection.execute(
                "INSERT INTO refresh_tokens (token_digest, family_id, issue_time, expire_time) "
                "VALUES ($1, $2, $3, $4)",
                first_digest,
                family_id,
                times.now,
                min(times.now + times.token_lifetime, family_expires),
            )
        return family_id

    async def exchange(
        self, digest: bytes, successor_digest: bytes, times: RefreshTimes
    ) -> RefreshExchange:
        now = times.now
        async with self._pool.acquire() as connection, connection.transaction():
            # Locking the family serialises concurrent refreshes of one sign-in.
            row = await connection.fetchrow(
                "SELECT t.spend_time, t.expire_time AS token_expires, f.family_id, f.person_id, "
                "f.scopes, f.expire_time AS family_expires, f.revoke_time "
                "FROM refresh_tokens t JOIN refresh_token_families f USING (family_id) "
                "WHERE t.token_digest = $1 FOR UPDATE OF t, f",
                digest,
            )
            if row is None:
                return RefreshExchange(ExchangeOutcome.UNKNOWN)

            def answer(outcome: ExchangeOutcome) -> RefreshExchange:
                return RefreshExchange(
                    outcome, row["person_id"], row["family_id"], frozenset(row["scopes"])
                )

            if row["revoke_time"] is not None:
                return answer(ExchangeOutcome.REVOKED)
            if row["spend_time"] is not None:
                await _revoke_family(connection, row["family_id"], now, "replayed")
                return answer(ExchangeOutcome.REPLAYED)
            if now >= row["token_expires"] or now >= row["family_expires"]:
                return answer(ExchangeOutcome.EXPIRED)
            await connection.execute(
                "UPDATE refresh_tokens SET spend_time = $2 WHERE token_digest = $1", digest, now
            )
            await connection.execute(
                "INSERT INTO refresh_tokens (token_digest, family_id, issue_time, expire_time) "
                "VALUES ($1, $2, $3, $4)",
                successor_digest,
                row["family_id"],
                now,
                min(now + times.token_lifetime, row["family_expires"]),
            )
            return answer(ExchangeOutcome.EXCHANGED)

    async def family_of(self, digest: bytes) -> RefreshExchange | None:
        row = await self._pool.fetchrow(
            "SELECT f.family_id, f.person_id, f.scopes FROM refresh_tokens t "
            "JOIN refresh_token_families f USING (family_id) WHERE t.token_digest = $1",
            digest,
        )
        if row is None:
            return None
        return RefreshExchange(
            ExchangeOutcome.UNKNOWN, row["person_id"], row["family_id"], frozenset(row["scopes"])
        )

    async def revoke_family_of(self, digest: bytes, now: datetime) -> bool:
        async with self._pool.acquire() as connection, connection.transaction():
            family_id = await connection.fetchval(
                "SELECT family_id FROM refresh_tokens WHERE token_digest = $1", digest
            )
            if family_id is None:
                return False
            return await _revoke_family(connection, family_id, now, "revoked")

    async def client(self, client_id: UUID) -> Client | None:
        row = await self._pool.fetchrow(
            "SELECT client_id, organization_id, kind, display_name, scopes, create_time "
            "FROM clients WHERE client_id = $1",
            client_id,
        )
        return client_from_row(row) if row else None

    async def get_key(self, client_id: str, kid: str) -> VerificationKey | None:
        """The ClientKeySource of client assertions: a registered key, or None."""
        try:
            client_uuid = UUID(client_id)
        except ValueError:
            return None
        document = await self._pool.fetchval(
            "SELECT public_jwk FROM client_keys WHERE client_id = $1 AND kid = $2",
            client_uuid,
            kid,
        )
        if document is None:
            return None
        try:
            return VerificationKey.from_jwk(json.loads(document))
        except KeyFormatError:
            return None


async def _revoke_family(
    connection: PoolConnectionProxy, family_id: UUID, now: datetime, reason: str
) -> bool:
    result = await connection.execute(
        "UPDATE refresh_token_families SET revoke_time = $2, revoke_reason = $3 "
        "WHERE family_id = $1 AND revoke_time IS NULL",
        family_id,
        now,
        reason,
    )
    return bool(result.endswith(" 1"))


def credential_from_row(row: asyncpg.Record) -> PasswordCredential:
    return PasswordCredential(
        person_id=row["person_id"],
        username=row["username"],
        password_hash=row["password_hash"],
        set_time=row["set_time"],
        failed_attempts=row["failed_attempts"],
        locked_until=row["locked_until"],
    )
