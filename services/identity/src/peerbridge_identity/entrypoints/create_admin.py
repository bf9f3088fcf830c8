"""`python -m peerbridge_identity create-admin`: the first administrator, on identity's own
database, before any token exists to authorize the call.

It goes through the same use cases as the API (validation, events through
the outbox, audit), acting as the operator's command line: the audit trail
names the actor `create-admin`. The password comes from
PEERBRIDGE_ADMIN_PASSWORD or a prompt, never from the command line, where
other users of the machine could read it.
"""

from __future__ import annotations

import getpass
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from peerbridge_platform.auth import Principal, principal_context
from peerbridge_platform.auth import Role as TokenRole
from peerbridge_platform.auth.scopes import ADMIN, PEOPLE_WRITE
from peerbridge_platform.errors import AlreadyExists, DomainError, FieldViolation, InvalidArgument

from ..adapters.schema import all_migrations, migrate
from ..bootstrap import bootstrap, postgres_units_of_work
from ..config import IdentitySettings
from ..domain import commands
from ..domain.credentials import check_new_password, check_username, username_key

PASSWORD_VARIABLE = "PEERBRIDGE_ADMIN_PASSWORD"  # noqa: S105 (a variable name)
OPERATOR = "create-admin"


def read_password() -> str:
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        return password
    if not sys.stdin.isatty():
        raise SystemExit(f"set {PASSWORD_VARIABLE}, or run in a terminal to be asked")
    first = getpass.getpass("Password for the administrator (12+ characters): ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("the passwords differ; nothing was created")
    return first


def _operator() -> Principal:
    """The operator at the command line, allowed to register and give access, nothing else."""
    return Principal(
        subject=OPERATOR,
        roles=frozenset({TokenRole.ADMIN}),
        scopes=frozenset({ADMIN, PEOPLE_WRITE}),
        organization_id=None,
        client_id=None,
        token_id=str(uuid.uuid4()),
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )


async def create_admin(
    settings: IdentitySettings, username: str, password: str, display_name: str
) -> str:
    """Register an administrator with this username and password; returns their person id."""
    database_url = settings.database_url.get_secret_value()
    await migrate(database_url, all_migrations())
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        application = bootstrap(postgres_units_of_work(pool))
        with principal_context(_operator(), peer="local:create-admin"):
            # Refused before anything is written, rather than leave an admin without a password.
            await _check_credentials(pool, username, password)
            person = await application.register_person(
                commands.RegisterPerson(
                    request_id=f"create-admin-{uuid.uuid4()}",
                    roles=("admin",),
                    organization_id="",
                    profile=commands.ProfileInput(
                        display_name=display_name, language="en", time_zone="UTC"
                    ),
                )
            )
            await application.set_password(
                commands.SetPassword(str(person.person_id), username, password)
            )
        return str(person.person_id)
    finally:
        await pool.close()


async def _check_credentials(pool: asyncpg.Pool, username: str, password: str) -> None:
    """Everything SetPassword would refuse, checked before the person is registered."""
    violations: list[FieldViolation] = []
    check_username(username, violations)
    check_new_password(password, username, violations)
    if violations:
        raise InvalidArgument("the credentials are not valid", violations)
    if await pool.fetchval(
        "SELECT 1 FROM password_credentials WHERE username_key = $1", username_key(username)
    ):
        raise AlreadyExists(f"username {username!r} is taken; choose another")


def describe(error: DomainError) -> str:
    details = "; ".join(f"{v.field}: {v.description}" for v in error.violations)
    return f"{error.message} ({details})" if details else error.message
