"""The idempotency store on PostgreSQL (asyncpg), timed by the database's clock.

Recorded responses are stored sealed (see `sealing`), never in plain text.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from peerbridge_platform.migrations import Migration, load_migrations

from .sealing import ResponseSealer
from .store import KeyRecord, KeyScope, StoredResponse

COMPONENT = "gateway"


def migrations() -> list[Migration]:
    """The store's schema, as versioned files in `migrations/`."""
    return load_migrations(COMPONENT, __package__ or "peerbridge_gateway.idempotency")


# Inserted, or replaced when expired or abandoned: either way the key is ours
# exactly when a row comes back. A concurrent claimer waits on the row lock,
# then sees the winner's claim.
_CLAIM = """
INSERT INTO idempotency_keys AS k
    (caller, idempotency_key, fingerprint, state, claim_token, claimed_at, expires_at)
VALUES ($1, $2, $3, 'in_progress', $4, now(), now() + make_interval(secs => $6))
ON CONFLICT (caller, idempotency_key) DO UPDATE
SET fingerprint = EXCLUDED.fingerprint,
    state = 'in_progress',
    claim_token = EXCLUDED.claim_token,
    claimed_at = EXCLUDED.claimed_at,
    expires_at = EXCLUDED.expires_at,
    response_status = NULL,
    response_headers_sealed = NULL,
    response_body_sealed = NULL,
    completed_at = NULL
WHERE k.expires_at <= now()
   OR (k.state = 'in_progress'
       AND k.fingerprint = EXCLUDED.fingerprint
       AND k.claimed_at <= now() - make_interval(secs => $5))
RETURNING claim_token
"""

_FIND = """
SELECT fingerprint, state, response_status, response_headers_sealed, response_body_sealed
FROM idempotency_keys
WHERE caller = $1 AND idempotency_key = $2 AND expires_at > now()
"""

_COMPLETE = """
UPDATE idempotency_keys
SET state = 'completed', response_status = $4, response_headers_sealed = $5,
    response_body_sealed = $6, completed_at = now()
WHERE caller = $1 AND idempotency_key = $2 AND claim_token = $3 AND state = 'in_progress'
"""

_RELEASE = """
DELETE FROM idempotency_keys
WHERE caller = $1 AND idempotency_key = $2 AND claim_token = $3 AND state = 'in_progress'
"""

_PURGE = """
WITH doomed AS (
    SELECT caller, idempotency_key FROM idempotency_keys
    WHERE expires_at <= now()
    ORDER BY expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
DELETE FROM idempotency_keys k
USING doomed d
WHERE k.caller = d.caller AND k.idempotency_key = d.idempotency_key
"""


class PostgresIdempotencyStore:
    def __init__(self, pool: asyncpg.Pool, sealer: ResponseSealer) -> None:
        self._pool = pool
        self._sealer = sealer

    async def claim(
        self,
        scope: KeyScope,
        fingerprint: str,
        token: UUID,
        *,
        lease_s: float,
        retention_s: float,
    ) -> bool:
        claimed = await self._pool.fetchval(
            _CLAIM, scope.caller, scope.key, fingerprint, token, lease_s, retention_s
        )
        return bool(claimed == token)

    async def find(self, scope: KeyScope) -> KeyRecord | None:
        row = await self._pool.fetchrow(_FIND, scope.caller, scope.key)
        if row is None:
            return None
        if row["state"] != "completed":
            return KeyRecord(row["fingerprint"], None)
        response = self._sealer.open(
            scope,
            row["response_status"],
            bytes(row["response_headers_sealed"]),
            bytes(row["response_body_sealed"]),
        )
        return KeyRecord(row["fingerprint"], response)

    async def complete(self, scope: KeyScope, token: UUID, response: StoredResponse) -> bool:
        sealed_headers, sealed_body = self._sealer.seal(scope, response)
        result = await self._pool.execute(
            _COMPLETE,
            scope.caller,
            scope.key,
            token,
            response.status_code,
            sealed_headers,
            sealed_body,
        )
        return _count(result) == 1

    async def release(self, scope: KeyScope, token: UUID) -> None:
        await self._pool.execute(_RELEASE, scope.caller, scope.key, token)

    async def purge_expired(self, batch: int) -> int:
        return _count(await self._pool.execute(_PURGE, batch))

    async def ping(self) -> None:
        await self._pool.fetchval("SELECT 1")


def _count(command_tag: str) -> int:
    """Rows affected, from a command tag such as `DELETE 3` or `UPDATE 1`."""
    return int(command_tag.rsplit(" ", 1)[-1])
