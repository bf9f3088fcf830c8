"""`python -m peerbridge_gateway`: serve the gateway with uvicorn until SIGTERM or SIGINT.

On either signal the server stops accepting connections, lets in-flight
requests finish (up to PEERBRIDGE_SHUTDOWN_GRACE_S), closes its gRPC channel
and database pool, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator

import uvicorn
from pydantic import ValidationError

from peerbridge_platform import tracing
from peerbridge_platform.logging import configure_logging, get_logger

from .app import create_app
from .config import GatewaySettings

log = get_logger("peerbridge_gateway")


class _Server(uvicorn.Server):
    """Stops on SIGTERM/SIGINT through the event loop, without re-raising the signal after."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def _settings() -> GatewaySettings | None:
    try:
        return GatewaySettings()  # type: ignore[call-arg]  # fields come from the environment
    except ValidationError as error:
        for problem in error.errors():
            name = "PEERBRIDGE_" + "_".join(str(part) for part in problem["loc"]).upper()
            print(f"gateway: {name}: {problem['msg']}", file=sys.stderr)
        return None


def main() -> int:
    settings = _settings()
    if settings is None:
        return 2
    configure_logging("gateway", settings.log_level, settings.log_format)
    # Refused tokens are logged by the gateway, rate limited; not once more per token.
    logging.getLogger("peerbridge_platform.auth.tokens").setLevel(logging.WARNING)
    tracing.install_tracer_provider()
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_grace_s,
        server_header=False,
    )
    server = _Server(config)
    asyncio.run(server.serve())
    if not server.started:
        log.error("gateway did not start")
        return 1
    log.info("gateway stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
