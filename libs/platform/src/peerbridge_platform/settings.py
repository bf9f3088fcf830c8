"""Settings read from `PEERBRIDGE_*` environment variables, validated at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    """What every PeerBridge process needs: where it runs and how it logs.

    Services subclass this and add their own fields; a missing or malformed
    variable fails at start-up with the variable's name.
    """

    model_config = SettingsConfigDict(env_prefix="PEERBRIDGE_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    # host:port of the Prometheus endpoint (GET /metrics), a listener of its own so it is
    # never on the public API; unset: no endpoint. Port 0 picks a free one.
    metrics_listen: str | None = Field(default=None, pattern=r"^[^\s:]+:\d{1,5}$")


class KafkaSettings(BaseSettings):
    """Broker address and topic shape; topics are created at start-up from these."""

    model_config = SettingsConfigDict(env_prefix="PEERBRIDGE_", extra="ignore", frozen=True)

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_partitions: int = Field(default=6, ge=1, le=1000)
    topic_replication_factor: int = Field(default=1, ge=1, le=5)
    topic_retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=-1)


class TokenSettings(BaseSettings):
    """Which access tokens count: every process that issues or verifies them mixes this in,
    so issuer and audience are set once for the whole platform."""

    model_config = SettingsConfigDict(env_prefix="PEERBRIDGE_", extra="ignore", frozen=True)

    # The public URL of the gateway that serves /v1/auth/token: the tokens' `iss`.
    token_issuer: str = Field(default="http://127.0.0.1:8000", min_length=1)
    token_audience: str = Field(default="peerbridge", min_length=1)
