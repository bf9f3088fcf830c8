"""Per-minute budgets per reason: the first `per_minute` events of a reason in a minute
pass, the rest are counted and reported once that minute is over. Used so that a
flood of bad requests can flood neither the log nor the audit trail."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 60.0
# Reasons are a short fixed list; this only bounds memory against surprises.
_MAX_REASONS = 256


@dataclass(frozen=True)
class Admission:
    # Whether this event is within the budget of its reason.
    admitted: bool
    # Events of this reason held back in the minute that has just ended (0 if none).
    held_back_before: int


class RateWindows:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        # reason -> (window start, admitted in it, held back in it)
        self._windows: dict[str, tuple[float, int, int]] = {}

    def admit(self, reason: str) -> Admission:
        now = self._clock()
        if reason not in self._windows and len(self._windows) >= _MAX_REASONS:
            self._windows.clear()
        started, admitted, held = self._windows.get(reason, (now, 0, 0))
        held_back_before = 0
        if now - started >= WINDOW_S:
            held_back_before, started, admitted, held = held, now, 0, 0
        if admitted >= self._per_minute:
            self._windows[reason] = (started, admitted, held + 1)
            return Admission(False, held_back_before)
        self._windows[reason] = (started, admitted + 1, held)
        return Admission(True, held_back_before)
