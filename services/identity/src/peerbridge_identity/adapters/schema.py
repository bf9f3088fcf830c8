"""The database schema this service needs: the platform outbox and the identity tables."""

from __future__ import annotations

import asyncpg

from peerbridge_platform.audit import AUDIT_MIGRATIONS
from peerbridge_platform.auth import AUTH_MIGRATIONS
from peerbridge_platform.migrations import Migration, apply_migrations, load_migrations
from peerbridge_platform.outbox import OUTBOX_MIGRATIONS

COMPONENT = "identity"


def identity_migrations() -> list[Migration]:
    return load_migrations(COMPONENT, "peerbridge_identity")


def all_migrations() -> list[Migration]:
    """The platform's migrations first (our writes depend on them), then ours."""
    return [*OUTBOX_MIGRATIONS, *AUDIT_MIGRATIONS, *AUTH_MIGRATIONS, *identity_migrations()]


async def migrate(database_url: str, migrations: list[Migration]) -> list[Migration]:
    """Bring the database up to date on a connection of its own; returns what was applied now."""
    connection = await asyncpg.connect(database_url)
    try:
        return await apply_migrations(connection, migrations)
    finally:
        await connection.close()
