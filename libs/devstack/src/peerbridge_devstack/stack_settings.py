"""What `make run` starts and where; each value overridable by a PEERBRIDGE_ variable."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .paths import cache_dir, state_dir


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEERBRIDGE_", extra="ignore")

    # An existing server's superuser URL; unset or empty = start the embedded PostgreSQL.
    database_url: str | None = None
    # An existing broker; unset = start the local Kafka broker.
    kafka_bootstrap: str | None = None

    host: str = "127.0.0.1"
    postgres_port: int = Field(default=54329, ge=1, le=65535)
    kafka_port: int = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: int = Field(default=9093, ge=1, le=65535)
    http_port: int = Field(default=8000, ge=1, le=65535)
    referrals_grpc_port: int = Field(default=50061, ge=1, le=65535)
    identity_grpc_port: int = Field(default=50062, ge=1, le=65535)
    state_dir: Path = Field(default_factory=state_dir)
    cache_dir: Path = Field(default_factory=cache_dir)
    startup_timeout_s: float = Field(default=120.0, gt=0)
    log_format: str = "console"
    # Who issues access tokens (their `iss`); empty = the gateway's URL, where clients get them.
    token_issuer: str = ""
    token_audience: str = "peerbridge"  # noqa: S105 (an audience name, not a secret)

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"
