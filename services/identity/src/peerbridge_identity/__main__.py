"""`python -m peerbridge_identity`: run the identity service until SIGTERM or SIGINT.

Needs PEERBRIDGE_DATABASE_URL; see `config.IdentitySettings` for the rest.
Exit codes: 0 after a clean stop, 1 when start-up failed, 2 for bad settings.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from peerbridge_platform.logging import configure_logging, get_logger

from .config import SettingsError, load_settings
from .entrypoints.app import run_until

SERVICE = "identity"
log = get_logger("peerbridge_identity")


async def _serve() -> int:
    try:
        settings = load_settings()
    except SettingsError as error:
        configure_logging(SERVICE)
        for variable, problem in error.problems:
            log.error("invalid setting", variable=variable, problem=problem)
        return 2
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return await run_until(settings, stop)


def main() -> int:
    return asyncio.run(_serve())


if __name__ == "__main__":
    sys.exit(main())
