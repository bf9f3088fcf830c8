"""The service's connection pool, opened patiently at start-up."""

from __future__ import annotations

import asyncio

import asyncpg

from peerbridge_platform.logging import get_logger

log = get_logger(__name__)

# Worth waiting for: the server is starting, restarting or briefly full.
_TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


async def open_pool(
    database_url: str, *, min_size: int, max_size: int, timeout_s: float
) -> asyncpg.Pool:
    """A pool once PostgreSQL accepts connections; TimeoutError after `timeout_s`.

    Errors that waiting cannot fix (wrong password, no such database) are raised at once.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    interval = 0.2
    while True:
        try:
            pool: asyncpg.Pool = await asyncpg.create_pool(
                database_url, min_size=min_size, max_size=max_size, timeout=10
            )
            return pool
        except _TRANSIENT as error:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"PostgreSQL did not accept connections within {timeout_s:g}s: {error!r}"
                ) from error
            log.info("waiting for postgresql", error=repr(error))
            await asyncio.sleep(min(interval, remaining))
            interval = min(interval * 2, 2.0)


async def database_ready(pool: asyncpg.Pool, timeout_s: float) -> bool:
    try:
        return bool(await pool.fetchval("SELECT true", timeout=timeout_s))
    except (*_TRANSIENT, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
