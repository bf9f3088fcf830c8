"""People's passwords and partner clients' keys, inside the unit of work's transaction."""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from ..domain.credentials import PasswordCredential
from ..service_layer.repository import CredentialRepository
from .postgres_token_store import credential_from_row


class PostgresCredentialRepository(CredentialRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def password_of(self, person_id: UUID) -> PasswordCredential | None:
        row = await self._connection.fetchrow(
            "SELECT * FROM password_credentials WHERE person_id = $1", person_id
        )
        return credential_from_row(row) if row else None

    async def username_owner(self, username_key: str) -> UUID | None:
        owner: UUID | None = await self._connection.fetchval(
            "SELECT person_id FROM password_credentials WHERE username_key = $1", username_key
        )
        return owner

    async def put_password(self, credential: PasswordCredential, username_key: str) -> None:
        await self._connection.execute(
            "INSERT INTO password_credentials "
            "(person_id, username, username_key, password_hash, set_time) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (person_id) DO UPDATE SET "
            "username = $2, username_key = $3, password_hash = $4, set_time = $5, "
            "failed_attempts = 0, locked_until = NULL",
            credential.person_id,
            credential.username,
            username_key,
            credential.password_hash,
            credential.set_time,
        )

    async def end_sessions(self, person_id: UUID, now: datetime, reason: str) -> int:
        result = await self._connection.execute(
            "UPDATE refresh_token_families SET revoke_time = $2, revoke_reason = $3 "
            "WHERE person_id = $1 AND revoke_time IS NULL",
            person_id,
            now,
            reason,
        )
        return int(result.rsplit(" ", 1)[-1])

    async def client_key_ids(self, client_id: UUID) -> list[str]:
        rows = await self._connection.fetch(
            "SELECT kid FROM client_keys WHERE client_id = $1 ORDER BY add_time", client_id
        )
        return [row["kid"] for row in rows]

    async def add_client_key(
        self, client_id: UUID, kid: str, public_jwk: dict[str, str], now: datetime
    ) -> bool:
        inserted = await self._connection.fetchval(
            "INSERT INTO client_keys (client_id, kid, public_jwk, add_time) "
            "VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT DO NOTHING RETURNING true",
            client_id,
            kid,
            json.dumps(public_jwk),
            now,
        )
        return inserted is True

    async def remove_client_key(self, client_id: UUID, kid: str) -> bool:
        result = await self._connection.execute(
            "DELETE FROM client_keys WHERE client_id = $1 AND kid = $2", client_id, kid
        )
        return bool(result == "DELETE 1")
