"""PEERBRIDGE_ENCRYPTION_KEYS, read and checked at start-up like every other setting."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import KeyringConfigError
from .keyring import Keyring
from .keyspec import NEW_KEY_COMMAND, VARIABLE, parse_keys

MISSING = (
    f"{VARIABLE} is not set, and no key is ever built in or derived. Generate one with "
    f"`{NEW_KEY_COMMAND}` (`make run` keeps one in its state directory)"
)


class EncryptionSettings(BaseSettings):
    """The keys that seal free-text fields at rest; services that store such fields mix it in.

    Required in every environment: a made-up development key would silently
    become a production key the day someone forgets to set one.
    """

    # Inputs stay out of validation errors: this one holds keys.
    model_config = SettingsConfigDict(
        env_prefix="PEERBRIDGE_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    # `kid:base64key,kid:base64key`: the first key encrypts, every key decrypts.
    # A default only so that a missing value gets the message above.
    encryption_keys: SecretStr = Field(default=SecretStr(""), validate_default=True)

    @field_validator("encryption_keys")
    @classmethod
    def _well_formed(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise KeyringConfigError(MISSING)
        parse_keys(value.get_secret_value())
        return value

    def keyring(self) -> Keyring:
        return Keyring.from_setting(self.encryption_keys.get_secret_value())
