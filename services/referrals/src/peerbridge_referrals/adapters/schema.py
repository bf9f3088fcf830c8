"""The database schema this service needs: the platform outbox, the audit log and the
referrals tables."""

from __future__ import annotations

import asyncpg

from peerbridge_platform.audit import AUDIT_MIGRATIONS
from peerbridge_platform.migrations import Migration, apply_migrations, load_migrations
from peerbridge_platform.outbox import OUTBOX_MIGRATIONS

COMPONENT = "referrals"
# 0003 drops the plain-text reason column. Sealing needs the keyring, which SQL
# has not, so the service seals plain reasons between the migrations before it
# and this one (see `reason_sealing.upgrade_database`).
PLAIN_REASON_DROPPED = 3


def referrals_migrations() -> list[Migration]:
    return load_migrations(COMPONENT, "peerbridge_referrals")


def all_migrations() -> list[Migration]:
    """The outbox's and the audit log's migrations first (our writes depend on them), then
    ours."""
    return [*OUTBOX_MIGRATIONS, *AUDIT_MIGRATIONS, *referrals_migrations()]


def before_plain_reason_drop() -> list[Migration]:
    """Every migration up to, not including, the one dropping the plain reason column."""
    return [
        m for m in all_migrations() if m.component != COMPONENT or m.version < PLAIN_REASON_DROPPED
    ]


async def migrate(database_url: str, migrations: list[Migration]) -> list[Migration]:
    """Bring the database up to date on a connection of its own; returns what was applied now."""
    connection = await asyncpg.connect(database_url)
    try:
        return await apply_migrations(connection, migrations)
    finally:
        await connection.close()
