"""Settings: defaults, and failures that name the variable to fix."""

from __future__ import annotations

import pytest

from peerbridge_referrals.config import SettingsError, load_settings

DSN = "postgresql://referrals:not-a-real-secret@127.0.0.1:5432/referrals"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, encryption_keys: str) -> None:
    monkeypatch.setenv("PEERBRIDGE_ENCRYPTION_KEYS", encryption_keys)
    for name in (
        "PEERBRIDGE_DATABASE_URL",
        "PEERBRIDGE_GRPC_LISTEN",
        "PEERBRIDGE_PAGE_SIZE_DEFAULT",
        "PEERBRIDGE_PAGE_SIZE_MAX",
        "PEERBRIDGE_GRPC_GRACE_S",
    ):
        monkeypatch.delenv(name, raising=False)


def test_only_the_database_url_and_the_keys_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PEERBRIDGE_DATABASE_URL", DSN)

    settings = load_settings()

    assert settings.database_url.get_secret_value() == DSN
    assert settings.grpc_listen == "127.0.0.1:50061"
    assert (settings.page_size_default, settings.page_size_max) == (50, 200)
    assert settings.grpc_grace_s > 0


def test_the_database_url_never_shows_in_a_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERBRIDGE_DATABASE_URL", DSN)

    assert "not-a-real-secret" not in repr(load_settings())


def test_a_missing_database_url_is_named() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert [name for name, _ in caught.value.problems] == ["PEERBRIDGE_DATABASE_URL"]


def test_a_malformed_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERBRIDGE_DATABASE_URL", DSN)
    monkeypatch.setenv("PEERBRIDGE_GRPC_GRACE_S", "soon")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert [name for name, _ in caught.value.problems] == ["PEERBRIDGE_GRPC_GRACE_S"]


def test_the_default_page_size_must_fit_the_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERBRIDGE_DATABASE_URL", DSN)
    monkeypatch.setenv("PEERBRIDGE_PAGE_SIZE_DEFAULT", "300")

    with pytest.raises(SettingsError, match="page_size_default must not exceed page_size_max"):
        load_settings()


def test_missing_keys_are_named_with_how_to_make_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERBRIDGE_DATABASE_URL", DSN)
    monkeypatch.delenv("PEERBRIDGE_ENCRYPTION_KEYS")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    ((name, problem),) = caught.value.problems
    assert name == "PEERBRIDGE_ENCRYPTION_KEYS"
    assert "python -m peerbridge_platform.crypto new-key" in problem


def test_the_keys_never_show_in_a_repr_or_an_error(
    monkeypatch: pytest.MonkeyPatch, encryption_keys: str
) -> None:
    secret = encryption_keys.partition(":")[2]
    monkeypatch.setenv("PEERBRIDGE_DATABASE_URL", DSN)

    assert secret not in repr(load_settings())
    monkeypatch.setenv("PEERBRIDGE_ENCRYPTION_KEYS", f"{encryption_keys},{encryption_keys}")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert secret not in str(caught.value)
