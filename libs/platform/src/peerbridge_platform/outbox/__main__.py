"""Run an outbox relay as its own process: `python -m peerbridge_platform.outbox`.

Services run their relay in-process; this entry point lets operators scale
or isolate relays, and lets tests kill one for real.
Environment: PEERBRIDGE_DATABASE_URL, PEERBRIDGE_KAFKA_BOOTSTRAP, PEERBRIDGE_RELAY_NAME.
"""

from __future__ import annotations

import asyncio
import os
import signal

from pydantic_settings import BaseSettings, SettingsConfigDict

from ..logging import configure_logging, get_logger
from .relay import OutboxRelay


class RelaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEERBRIDGE_", extra="ignore")

    database_url: str
    kafka_bootstrap: str = "127.0.0.1:9092"
    relay_name: str = f"relay-{os.getpid()}"
    relay_batch_size: int = 500
    relay_poll_interval_s: float = 1.0
    log_level: str = "INFO"


async def _main() -> None:
    settings = RelaySettings()  # type: ignore[call-arg]  # read from the environment
    configure_logging("outbox-relay", settings.log_level)
    relay = OutboxRelay(
        settings.database_url,
        settings.kafka_bootstrap,
        name=settings.relay_name,
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await relay.start()
    get_logger(__name__).info("outbox relay running", relay=settings.relay_name)
    await stop.wait()
    await relay.stop()


if __name__ == "__main__":
    asyncio.run(_main())
