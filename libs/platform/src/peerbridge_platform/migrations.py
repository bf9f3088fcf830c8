"""Versioned SQL migrations, applied at start-up and recorded.

Files are named `NNNN_description.sql` inside a package's `migrations`
folder. A component (`platform.outbox`, `referrals`, ...) has its own version
sequence. Two instances starting at once serialise on an advisory lock; an
applied file whose text later changes stops start-up rather than drifting.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import asyncpg

from .logging import get_logger

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# An arbitrary constant: the one advisory lock key every migration run takes.
_LOCK_KEY = 0x5045_4552_4D49  # "PEERMI"

log = get_logger(__name__)


class MigrationError(RuntimeError):
    """Migrations are inconsistent with what the database has recorded."""


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(component: str, package: str, folder: str = "migrations") -> list[Migration]:
    """Read `package/folder/NNNN_*.sql` in version order."""
    found: list[Migration] = []
    root = resources.files(package).joinpath(folder)
    for entry in root.iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        found.append(Migration(component, int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{package}/{folder} has two migrations with the same number")
    return found


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component   text        NOT NULL,
    version     integer     NOT NULL,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


async def apply_migrations(
    connection: asyncpg.Connection, migrations: Sequence[Migration]
) -> list[Migration]:
    """Apply what is missing, each file in its own transaction; return what was applied."""
    applied_now: list[Migration] = []
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await connection.execute(_BOOKKEEPING)
        rows = await connection.fetch("SELECT component, version, checksum FROM schema_migrations")
        recorded = {(r["component"], r["version"]): r["checksum"] for r in rows}
        for migration in migrations:
            key = (migration.component, migration.version)
            if key in recorded:
                if recorded[key] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.component} {migration.version:04d}_"
                        f"{migration.name} was changed after it was applied; add a new "
                        "migration instead of editing an applied one"
                    )
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (component, version, name, checksum) "
                    "VALUES ($1, $2, $3, $4)",
                    migration.component,
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info(
                "migration applied",
                component=migration.component,
                version=migration.version,
                migration=migration.name,
            )
            applied_now.append(migration)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
