"""When a sweep ends: its time limit (which may change while it runs) or a stop.

sweeper's own stop, not Tune's ``time_budget_s``: Tune's stop-everything path calls no
trial hook, so trials in flight stayed ``running`` everywhere. Here the searcher stops
asking for trials and the scheduler wrapper ends every live trial through Tune's normal
``stop_trial``, so each one is recorded, told to Optuna and closed in MLflow like any other.
The time counted is the time the sweep ran: a resumed sweep goes on with what was left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from sweeper.status import Reason

__all__ = ["SweepBudget"]


class SweepBudget:
    """Shared by the searcher (no new trials once it is over) and the scheduler wrapper
    (which ends the live ones); saved with the searcher's state."""

    def __init__(self, time_limit_s: float | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.time_limit_s = time_limit_s
        self.spent_before_s = 0.0  # run time of earlier drivers of this sweep
        self.stopped: Reason | None = None
        self._clock = clock
        self._started: float | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_started"] = None  # a restored budget counts from its new driver's start
        state["_clock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._clock = time.monotonic

    def spent_s(self) -> float:
        """Seconds this sweep has run, over every driver that ran it."""
        if self._started is None:
            self._started = self._clock()
        return self.spent_before_s + self._clock() - self._started

    def set_time_limit(self, seconds: float | None) -> None:
        """A new limit while the sweep runs (None: no limit)."""
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a time limit is a positive number of seconds, got {seconds}")
        self.time_limit_s = seconds

    def stop(self, reason: Reason) -> None:
        """End the sweep: no new trials, and the live ones end with ``reason``."""
        if self.stopped is None:
            self.stopped = reason

    def over(self) -> Reason | None:
        """Why the sweep must end now, or None while it may go on."""
        if self.stopped is not None:
            return self.stopped
        if self.time_limit_s is not None and self.spent_s() >= self.time_limit_s:
            return Reason.TIME_LIMIT
        return None

    # -- the part saved with the searcher's state (JSON)
    def to_state(self) -> dict[str, Any]:
        return {"spent_s": self.spent_s(),
                "stopped": self.stopped.value if self.stopped else None}

    def restore(self, state: dict[str, Any]) -> None:
        self.spent_before_s = float(state.get("spent_s", 0.0))
        self._started = None
        stopped = state.get("stopped")
        self.stopped = Reason(stopped) if stopped else None
