"""Settings: defaults, and bad values named by their variable."""

from __future__ import annotations

import pytest

from peerbridge_identity.config import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, encryption_keys: str) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PEERBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PEERBRIDGE_ENCRYPTION_KEYS", encryption_keys)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERBRIDGE_DATABASE_URL", "postgresql://u:p@127.0.0.1/identity")

    settings = load_settings()

    assert settings.grpc_listen == "127.0.0.1:50062"
    assert settings.eligibility_warning_days == 30
    assert settings.eligibility_check_interval_s == 300
    assert (settings.token_issuer, settings.token_audience) == (
        "http://127.0.0.1:8000",
        "peerbridge",
    )
    assert settings.access_token_lifetime_s == 300
    assert (settings.lockout_failures, settings.lockout_s) == (5, 900)
    assert "p@" not in repr(settings)
    assert settings.encryption_keys.get_secret_value() not in repr(settings)


def test_every_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERBRIDGE_ELIGIBILITY_WARNING_DAYS", "-1")
    monkeypatch.setenv("PEERBRIDGE_ELIGIBILITY_CHECK_INTERVAL_S", "0")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert {name for name, _ in caught.value.problems} == {
        "PEERBRIDGE_DATABASE_URL",
        "PEERBRIDGE_ELIGIBILITY_WARNING_DAYS",
        "PEERBRIDGE_ELIGIBILITY_CHECK_INTERVAL_S",
    }


def test_page_sizes_must_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERBRIDGE_DATABASE_URL", "postgresql://127.0.0.1/identity")
    monkeypatch.setenv("PEERBRIDGE_PAGE_SIZE_DEFAULT", "500")

    with pytest.raises(SettingsError):
        load_settings()


def test_the_keys_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERBRIDGE_DATABASE_URL", "postgresql://127.0.0.1/identity")
    monkeypatch.delenv("PEERBRIDGE_ENCRYPTION_KEYS")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert [name for name, _ in caught.value.problems] == ["PEERBRIDGE_ENCRYPTION_KEYS"]
