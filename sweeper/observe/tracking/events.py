"""The kinds of event the MLflow write-ahead log holds (one JSON object per line)."""

from __future__ import annotations

from enum import StrEnum

from sweeper.status import SweepStatus

__all__ = ["EventKind"]


class EventKind(StrEnum):
    SWEEP_START = "sweep_start"
    TRIAL_START = "trial_start"
    TRIAL_INFO = "trial_info"
    EPOCH = "epoch"
    TRIAL_END = "trial_end"
    INTERRUPTED = SweepStatus.INTERRUPTED.value
    RECONCILE = "reconcile"
    SWEEP_END = "sweep_end"
    REGISTER = "register"
    BUDGET = "budget"  # `sweeper extend` changed the trial budget or the time limit
