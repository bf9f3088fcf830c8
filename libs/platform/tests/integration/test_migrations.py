from __future__ import annotations

import asyncio

import asyncpg
import pytest

from peerbridge_platform.migrations import Migration, MigrationError, apply_migrations

pytestmark = pytest.mark.integration

FIRST = [
    Migration("demo", 1, "create", "CREATE TABLE demo_items (id int PRIMARY KEY)"),
    Migration("demo", 2, "add_name", "ALTER TABLE demo_items ADD COLUMN name text"),
]


async def test_applies_once_and_records(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        assert [m.version for m in await apply_migrations(connection, FIRST)] == [1, 2]
        assert await apply_migrations(connection, FIRST) == []
        rows = await connection.fetch("SELECT component, version FROM schema_migrations")
        assert sorted((r["component"], r["version"]) for r in rows) == [("demo", 1), ("demo", 2)]
    finally:
        await connection.close()


async def test_two_instances_starting_at_once_apply_each_file_once(database_url: str) -> None:
    connections = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(apply_migrations(c, FIRST) for c in connections))
        assert sorted(len(r) for r in results) == [0, 0, 0, 2]
    finally:
        for connection in connections:
            await connection.close()


async def test_a_failing_migration_changes_nothing(database_url: str) -> None:
    broken = [*FIRST, Migration("demo", 3, "broken", "ALTER TABLE nowhere ADD COLUMN x int")]
    connection = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await apply_migrations(connection, broken)
        versions = await connection.fetch("SELECT version FROM schema_migrations")
        assert sorted(r["version"] for r in versions) == [1, 2]
    finally:
        await connection.close()


async def test_an_edited_applied_migration_stops_start_up(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await apply_migrations(connection, FIRST)
        edited = [FIRST[0], Migration("demo", 2, "add_name", "ALTER TABLE demo_items ADD x int")]
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(connection, edited)
    finally:
        await connection.close()
