"""One database and one login role per service, so no service can read another's tables.

Idempotent: run at every start. Passwords come from
`PEERBRIDGE_DB_PASSWORD_<SERVICE>` when set (operators), else are generated
once and kept in the state directory with mode 0600 (local runs).
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

SERVICES_WITH_DATABASES = ("referrals", "identity", "gateway")


@dataclass(frozen=True)
class ServiceDatabase:
    service: str
    database: str
    role: str
    url: str


def _password_for(service: str, secrets_dir: Path | None) -> str:
    from_env = os.environ.get(f"PEERBRIDGE_DB_PASSWORD_{service.upper()}")
    if from_env:
        return from_env
    if secrets_dir is None:
        raise ValueError(
            f"PEERBRIDGE_DB_PASSWORD_{service.upper()} is not set and there is no state "
            "directory to keep a generated password in"
        )
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = secrets_dir / f"{service}.db-password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _url_with(admin_url: str, user: str, password: str, database: str) -> str:
    parts = urlsplit(admin_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, ""))


async def provision(
    admin_url: str,
    services: tuple[str, ...] = SERVICES_WITH_DATABASES,
    secrets_dir: Path | None = None,
    prefix: str = "peerbridge",
) -> dict[str, ServiceDatabase]:
    """Create (or update) each service's role and database; return their URLs."""
    result: dict[str, ServiceDatabase] = {}
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        for service in services:
            name = f"{prefix}_{service}"
            password = _password_for(service, secrets_dir)
            role_exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
            verb = "ALTER" if role_exists else "CREATE"
            # Identifiers and the password are quoted by PostgreSQL's own functions.
            statement = await admin.fetchval(
                "SELECT format('%s ROLE %I LOGIN PASSWORD %L', $1::text, $2::text, $3::text)",
                verb,
                name,
                password,
            )
            await admin.execute(statement)
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await admin.execute(
                    await admin.fetchval(
                        "SELECT format('CREATE DATABASE %I OWNER %I', $1::text, $1::text)", name
                    )
                )
            # Least privilege: nobody but the owner connects to a service's database.
            await admin.execute(
                await admin.fetchval(
                    "SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', $1::text)", name
                )
            )
            result[service] = ServiceDatabase(
                service, name, name, _url_with(admin_url, name, password, name)
            )
    finally:
        await admin.close()
    return result


def main() -> int:
    """One-shot provisioning (docker compose, Kubernetes Job): needs a superuser URL."""
    import asyncio

    admin_url = os.environ.get("PEERBRIDGE_DATABASE_URL")
    if not admin_url:
        print("PEERBRIDGE_DATABASE_URL (a superuser URL) is required", file=sys.stderr)
        return 2
    try:
        databases = asyncio.run(provision(admin_url))
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for database in databases.values():
        print(f"database {database.database} ready (role {database.role})")
    return 0
