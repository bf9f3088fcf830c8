"""Settings of the follow-up of referrals (`PEERBRIDGE_OVERDUE_*`, `PEERBRIDGE_WORKLIST_*`),
mixed into the service's settings.

Windows are durations: seconds (`3600`) or ISO 8601 (`PT1H`, `P3D`).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.overdue import DEFAULT_WINDOWS, OverdueWindows, Windows
from .domain.values import Priority

_ZERO = timedelta(0)
_D = DEFAULT_WINDOWS


class WorklistSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEERBRIDGE_", extra="ignore", frozen=True)

    # How long a requested referral may wait to be accepted or rejected, then an accepted
    # one to be started or completed, per priority (defaults in domain.overdue).
    overdue_stat_acknowledge: timedelta = Field(_D[Priority.STAT].acknowledge, gt=_ZERO)
    overdue_stat_act: timedelta = Field(_D[Priority.STAT].act, gt=_ZERO)
    overdue_asap_acknowledge: timedelta = Field(_D[Priority.ASAP].acknowledge, gt=_ZERO)
    overdue_asap_act: timedelta = Field(_D[Priority.ASAP].act, gt=_ZERO)
    overdue_urgent_acknowledge: timedelta = Field(_D[Priority.URGENT].acknowledge, gt=_ZERO)
    overdue_urgent_act: timedelta = Field(_D[Priority.URGENT].act, gt=_ZERO)
    overdue_routine_acknowledge: timedelta = Field(_D[Priority.ROUTINE].acknowledge, gt=_ZERO)
    overdue_routine_act: timedelta = Field(_D[Priority.ROUTINE].act, gt=_ZERO)
    # Seconds between sweeps for newly overdue referrals; 0 turns the sweeper off.
    overdue_sweep_interval_s: float = Field(default=30.0, ge=0, le=3600)
    # At most this many referrals raised per transaction.
    overdue_sweep_batch: int = Field(default=100, ge=1, le=10_000)
    # How long a closed loop stays on the requester's worklist unless marked seen.
    worklist_closed_recently: timedelta = Field(timedelta(days=30), gt=_ZERO)

    @field_validator(
        *(f"overdue_{p.value}_{k}" for p in Priority for k in ("acknowledge", "act")),
        "worklist_closed_recently",
        mode="before",
    )
    @classmethod
    def _seconds(cls, value: object) -> object:
        # From the environment every value is text; a plain number there means seconds.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return value

    def overdue_windows(self) -> OverdueWindows:
        return OverdueWindows(
            {
                priority: Windows(
                    acknowledge=getattr(self, f"overdue_{priority.value}_acknowledge"),
                    act=getattr(self, f"overdue_{priority.value}_act"),
                )
                for priority in Priority
            }
        )
