"""The identity service's settings, read from `PEERBRIDGE_*` variables at start-up."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, ValidationError, model_validator

from peerbridge_platform.crypto import EncryptionSettings
from peerbridge_platform.settings import KafkaSettings, PlatformSettings, TokenSettings


class IdentitySettings(PlatformSettings, KafkaSettings, EncryptionSettings, TokenSettings):
    """Where the service listens, its own database, how eligibility is watched, and the
    tokens it issues. PEERBRIDGE_ENCRYPTION_KEYS seals the signing keys at rest."""

    # This service's own database (a DSN); required. Secret: it holds a password.
    database_url: SecretStr
    database_pool_min: int = Field(default=1, ge=0, le=100)
    database_pool_max: int = Field(default=10, ge=1, le=100)

    grpc_listen: str = "127.0.0.1:50062"
    # Seconds that in-flight calls get to finish on SIGTERM/SIGINT.
    grpc_grace_s: float = Field(default=10.0, ge=0, le=300)

    # How long start-up waits for PostgreSQL and Kafka before giving up.
    startup_timeout_s: float = Field(default=60.0, gt=0, le=600)

    page_size_default: int = Field(default=50, ge=1, le=10_000)
    page_size_max: int = Field(default=200, ge=1, le=10_000)

    # An eligible supporter is EXPIRING_SOON when something lapses within this many days.
    eligibility_warning_days: int = Field(default=30, ge=0, le=365)
    # How often the scheduled review looks for supporters whose day has come.
    # Lapses happen at day boundaries, so minutes are plenty.
    eligibility_check_interval_s: float = Field(default=300.0, gt=0, le=86_400)
    # Supporters re-assessed per transaction by the scheduled review.
    eligibility_check_batch_size: int = Field(default=200, ge=1, le=10_000)

    # Tokens (issuer and audience: TokenSettings).
    # About five minutes, as SMART Backend Services expects.
    access_token_lifetime_s: int = Field(default=300, ge=30, le=3600)
    refresh_token_lifetime_s: int = Field(default=12 * 3600, ge=60, le=30 * 86_400)
    # However often it is refreshed, a sign-in ends after this long.
    session_lifetime_s: int = Field(default=7 * 86_400, ge=60, le=90 * 86_400)
    # Lockout after this many wrong passwords in a row, for this long.
    lockout_failures: int = Field(default=5, ge=1, le=100)
    lockout_s: int = Field(default=900, ge=1, le=86_400)
    # Failed sign-ins allowed per network address per window.
    throttle_attempts: int = Field(default=20, ge=1, le=10_000)
    throttle_window_s: int = Field(default=60, ge=1, le=86_400)
    # Other instances' key rotations are picked up within this long.
    signing_key_reload_interval_s: float = Field(default=30.0, gt=0, le=3600)
    # A rotated key is published this long before it signs: at least the verifiers'
    # minimum JWKS refresh interval (PEERBRIDGE_JWKS_MIN_REFRESH_INTERVAL_S, 30 s).
    signing_key_publish_ahead_s: float = Field(default=60.0, ge=0, le=86_400)

    @model_validator(mode="after")
    def _limits_fit(self) -> Self:
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


def load_settings() -> IdentitySettings:
    """Settings from the environment, or SettingsError naming each bad or missing variable."""
    try:
        return IdentitySettings()  # type: ignore[call-arg]  # fields come from the environment
    except ValidationError as error:
        problems = [(_variable_name(problem["loc"]), problem["msg"]) for problem in error.errors()]
        raise SettingsError(problems) from None


def _variable_name(location: tuple[int | str, ...]) -> str:
    if not location:
        return "PEERBRIDGE_* (settings)"
    return "PEERBRIDGE_" + "_".join(str(part) for part in location).upper()
