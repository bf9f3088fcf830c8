"""The follow-up settings: defaults are the domain's windows; each window and the sweeper
are configurable, and a bad value names its variable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from peerbridge_referrals.config import SettingsError, load_settings
from peerbridge_referrals.domain.overdue import DEFAULT_WINDOWS, OverdueKind
from peerbridge_referrals.domain.values import Priority

DSN = "postgresql://referrals:not-a-real-secret@127.0.0.1:5432/referrals"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, encryption_keys: str) -> None:
    monkeypatch.setenv("PEERBRIDGE_ENCRYPTION_KEYS", encryption_keys)
    monkeypatch.setenv("PEERBRIDGE_DATABASE_URL", DSN)


def test_the_defaults_are_the_domains_windows_and_a_running_sweeper() -> None:
    settings = load_settings()

    assert settings.overdue_windows().by_priority == DEFAULT_WINDOWS
    assert settings.overdue_sweep_interval_s > 0
    assert settings.overdue_sweep_batch == 100
    assert settings.worklist_closed_recently == timedelta(days=30)


def test_each_window_is_set_in_seconds_or_iso_8601(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEERBRIDGE_OVERDUE_STAT_ACKNOWLEDGE", "1800")
    monkeypatch.setenv("PEERBRIDGE_OVERDUE_ROUTINE_ACT", "P10D")

    windows = load_settings().overdue_windows()

    assert windows.window(Priority.STAT, OverdueKind.ACKNOWLEDGE) == timedelta(minutes=30)
    assert windows.window(Priority.ROUTINE, OverdueKind.ACT) == timedelta(days=10)
    assert windows.window(Priority.URGENT, OverdueKind.ACT) == timedelta(days=3)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PEERBRIDGE_OVERDUE_ASAP_ACT", "0"),
        ("PEERBRIDGE_OVERDUE_URGENT_ACKNOWLEDGE", "soon"),
        ("PEERBRIDGE_OVERDUE_SWEEP_BATCH", "0"),
        ("PEERBRIDGE_OVERDUE_SWEEP_INTERVAL_S", "-1"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as refused:
        load_settings()

    assert [name for name, _ in refused.value.problems] == [variable]
