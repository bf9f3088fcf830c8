"""The referrals service's settings, read from `PEERBRIDGE_*` variables at start-up."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, ValidationError, model_validator

from peerbridge_platform.crypto import EncryptionSettings
from peerbridge_platform.settings import KafkaSettings, PlatformSettings, TokenSettings

from .worklist_settings import WorklistSettings


class ReferralsSettings(
    PlatformSettings, KafkaSettings, EncryptionSettings, TokenSettings, WorklistSettings
):
    """Where the service listens, its own database, and how big a page may be.

    PEERBRIDGE_ENCRYPTION_KEYS is required: each referral's reason is sealed with it.
    """

    # This service's own database (a DSN); required. Secret: it holds a password.
    database_url: SecretStr
    database_pool_min: int = Field(default=1, ge=0, le=100)
    database_pool_max: int = Field(default=10, ge=1, le=100)

    grpc_listen: str = "127.0.0.1:50061"
    # Seconds that in-flight calls get to finish on SIGTERM/SIGINT.
    grpc_grace_s: float = Field(default=10.0, ge=0, le=300)

    # How long start-up waits for PostgreSQL and Kafka before giving up.
    startup_timeout_s: float = Field(default=60.0, gt=0, le=600)

    # Access tokens (TokenSettings) are verified with identity's keys, from
    # TokenService.GetJwks at identity_target.
    identity_target: str = Field(default="127.0.0.1:50062", min_length=1)
    # An unknown `kid` refetches identity's keys at most this often (a forged kid must
    # not flood identity); identity pre-publishes new keys at least this long.
    jwks_min_refresh_interval_s: float = Field(default=30.0, ge=0, le=3600)

    page_size_default: int = Field(default=50, ge=1, le=10_000)
    page_size_max: int = Field(default=200, ge=1, le=10_000)

    @model_validator(mode="after")
    def _default_page_fits(self) -> Self:
        if self.page_size_default > self.page_size_max:
            raise ValueError("page_size_default must not exceed page_size_max")
        if self.database_pool_min > self.database_pool_max:
            raise ValueError("database_pool_min must not exceed database_pool_max")
        return self


class SettingsError(Exception):
    """The environment does not describe a valid configuration; `problems` name the variables."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in problems))
        self.problems = problems


def load_settings() -> ReferralsSettings:
    """Settings from the environment, or SettingsError naming each bad or missing variable."""
    try:
        return ReferralsSettings()  # type: ignore[call-arg]  # fields come from the environment
    except ValidationError as error:
        problems = [(_variable_name(problem["loc"]), problem["msg"]) for problem in error.errors()]
        raise SettingsError(problems) from None


def _variable_name(location: tuple[int | str, ...]) -> str:
    if not location:
        return "PEERBRIDGE_* (settings)"
    return "PEERBRIDGE_" + "_".join(str(part) for part in location).upper()
