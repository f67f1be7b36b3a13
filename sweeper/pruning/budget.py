"""When a sweep ends: its trial count and time limit (both may change while it runs:
``sweeper extend``), a stop that lets running trials finish (``sweeper stop``, a reached
target), or one that ends them at once (``stop --now``, too many failures).

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

from sweeper.status import Reason, StopCause, SweepStatus

__all__ = ["SweepBudget", "extended_time_limit"]


def extended_time_limit(limit_s: float | None, spent_s: float, more_s: float) -> float:
    """``extend --time-limit``: ``more_s`` beyond the limit, or beyond the time spent when
    that is later (the limit has passed, or there was none)."""
    return max(limit_s if limit_s is not None else 0.0, spent_s) + more_s


class SweepBudget:
    """Shared by the searcher (no new trials once it is over) and the scheduler wrapper
    (which ends the live ones); saved with the searcher's state."""

    def __init__(self, time_limit_s: float | None, trials: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.time_limit_s = time_limit_s
        self.trials = trials  # trials the sweep may start in all (None: no count)
        self.spent_before_s = 0.0  # run time of earlier drivers of this sweep
        self.stopped: Reason | None = None  # live trials end now, with this reason
        self.closed: StopCause | None = None  # no new trial starts; live ones run on
        self._clock = clock
        self._started: float | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_started"] = None  # a restored budget counts from its new driver's start
        state["_clock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("trials", None)  # pickled before the budget could grow
        state.setdefault("closed", None)
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

    def close(self, cause: StopCause) -> None:
        """No new trial starts; the live ones run to their own end (a first cause stays)."""
        if self.closed is None:
            self.closed = cause

    def reopen(self) -> None:
        """An extension: a stop by the user or a reached target no longer holds (a stop for
        failures does: a failed sweep is not extended)."""
        self.closed = None
        if self.stopped == Reason.STOPPED_BY_USER:
            self.stopped = None

    def accepts_trials(self, issued: int) -> bool:
        """Whether a trial may start after ``issued`` were started."""
        return (self.closed is None and self.over() is None
                and (self.trials is None or issued < self.trials))

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
                "stop_reason": self.stopped.value if self.stopped else None}

    def restore(self, state: dict[str, Any]) -> None:
        self.spent_before_s = float(state.get("spent_s", 0.0))
        self._started = None
        # states saved before sweeps could be stopped by a user named the key after the
        # word that is now a sweep's status
        stopped = state.get("stop_reason", state.get(SweepStatus.STOPPED.value))
        self.stopped = Reason(stopped) if stopped else None
