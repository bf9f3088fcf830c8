"""`python -m peerbridge_identity`: run the identity service until SIGTERM or SIGINT.

`python -m peerbridge_identity create-admin --username NAME` registers an
administrator (password from PEERBRIDGE_ADMIN_PASSWORD, else asked) and
prints their person id.

Needs PEERBRIDGE_DATABASE_URL and PEERBRIDGE_ENCRYPTION_KEYS; see
`config.IdentitySettings` for the rest. Exit codes: 0 after a clean stop (or
an administrator created), 1 when start-up (or creation) failed, 2 for bad
settings or arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from peerbridge_platform.errors import DomainError
from peerbridge_platform.logging import configure_logging, get_logger

from .config import IdentitySettings, SettingsError, load_settings
from .entrypoints.app import run_until
from .entrypoints.create_admin import create_admin, describe, read_password

SERVICE = "identity"
log = get_logger("peerbridge_identity")


def _settings() -> IdentitySettings | None:
    try:
        settings = load_settings()
    except SettingsError as error:
        configure_logging(SERVICE)
        for variable, problem in error.problems:
            log.error("invalid setting", variable=variable, problem=problem)
        return None
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    return settings


async def _serve() -> int:
    settings = _settings()
    if settings is None:
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return await run_until(settings, stop)


async def _create_admin(username: str, display_name: str) -> int:
    settings = _settings()
    if settings is None:
        return 2
    password = read_password()
    try:
        person_id = await create_admin(settings, username, password, display_name)
    except DomainError as error:
        print(f"create-admin: {describe(error)}", file=sys.stderr)
        return 1
    print(f"Administrator {username!r} created. Person id:")
    print(person_id)
    return 0


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m peerbridge_identity")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    admin = commands.add_parser("create-admin", help="register an administrator")
    admin.add_argument("--username", required=True)
    admin.add_argument("--display-name", default="Administrator")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(sys.argv[1:] if argv is None else argv)
    if arguments.command == "create-admin":
        return asyncio.run(_create_admin(arguments.username, arguments.display_name))
    return asyncio.run(_serve())


if __name__ == "__main__":
    sys.exit(main())
