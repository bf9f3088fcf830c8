"""The gateway's settings, read from `PEERBRIDGE_*` variables and validated at start-up."""

from __future__ import annotations

from pydantic import Field, SecretStr

from peerbridge_platform.crypto import EncryptionSettings
from peerbridge_platform.settings import KafkaSettings, PlatformSettings, TokenSettings


class GatewaySettings(PlatformSettings, KafkaSettings, EncryptionSettings, TokenSettings):
    """Where the gateway listens, what it calls, and how it keeps idempotency keys.

    PEERBRIDGE_ENCRYPTION_KEYS is required: recorded responses are sealed with it.
    Kafka carries the audit entries of the requests the gateway refuses itself.
    """

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    # Seconds that in-flight HTTP requests get to finish on SIGTERM/SIGINT.
    shutdown_grace_s: int = Field(default=10, ge=0, le=300)

    referrals_target: str = "127.0.0.1:50061"
    # The identity service: the token endpoints and the keys that verify access tokens.
    identity_target: str = "127.0.0.1:50062"
    # The deadline of every gRPC call the gateway makes.
    grpc_timeout_s: float = Field(default=5.0, gt=0, le=120)

    # The gateway's own database (idempotency keys only); required.
    database_url: SecretStr
    database_pool_min: int = Field(default=1, ge=0, le=100)
    database_pool_max: int = Field(default=10, ge=1, le=100)
    database_timeout_s: float = Field(default=5.0, gt=0, le=60)

    # Request bodies above this size are refused with 413 before anything parses them.
    max_body_bytes: int = Field(default=64 * 1024, ge=1, le=16 * 1024 * 1024)

    # How long a completed POST can be replayed with its Idempotency-Key.
    idempotency_retention_s: float = Field(default=24 * 3600, gt=0)
    # How long a duplicate waits for the first request with its key to finish.
    idempotency_wait_s: float = Field(default=10.0, gt=0, le=120)
    # A key claimed this long ago and still unfinished is taken over (its owner died).
    idempotency_lease_s: float = Field(default=60.0, gt=0)
    idempotency_purge_interval_s: float = Field(default=300.0, gt=0)

    # How long /.well-known/jwks.json is cached, here and by clients (identity rotates keys
    # with an overlap far longer than this).
    jwks_cache_s: int = Field(default=60, ge=0, le=3600)
    # An unknown `kid` refetches identity's keys at most this often (a forged kid must
    # not flood identity); identity pre-publishes new keys at least this long.
    jwks_min_refresh_interval_s: float = Field(default=30.0, ge=0, le=3600)
    # At most this many failed authentications are logged per reason and minute.
    auth_failure_log_per_minute: int = Field(default=10, ge=1, le=10_000)
    # At most this many refusals are audited one by one per reason and minute; the rest
    # are recorded as one count per minute.
    auth_failure_audit_per_minute: int = Field(default=60, ge=1, le=100_000)
    # How long start-up waits for Kafka (the audit trail's way out) before giving up.
    startup_timeout_s: float = Field(default=60.0, gt=0, le=600)

    # Problem `type` URIs are this base plus a slug, e.g. `.../validation-error`.
    problem_type_base: str = "https://peerbridge.example/problems/"
