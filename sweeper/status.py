"""Trial statuses: one enum, used by trials, schedulers, tables and tracking alike."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a trial stands. Terminal: completed, pruned, stopped_early, failed, infeasible."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"  # ran its max_epochs
    PRUNED = "pruned"  # stopped by the scheduler or pruner (or the sweep's time limit)
    STOPPED_EARLY = "stopped_early"  # its own early stopping ended it
    FAILED = "failed"  # oom, nan_loss, error (reason says which)
    INFEASIBLE = "infeasible"  # never launched: the architecture cannot exist

    @property
    def terminal(self) -> bool:
        return self not in (Status.RUNNING, Status.PAUSED)

    @property
    def scored(self) -> bool:
        """Statuses whose best epoch counts as a result (best-trial choice, Optuna COMPLETE)."""
        return self in (Status.COMPLETED, Status.STOPPED_EARLY, Status.PRUNED)


class Reason(StrEnum):
    """Why a trial failed or was pruned."""

    NONE = ""
    OOM = "oom"
    NAN_LOSS = "nan_loss"
    ERROR = "error"
    WORKER_DIED = "worker_died"
    SCHEDULER = "scheduler"
    TIME_LIMIT = "time_limit"
    INTERRUPTED = "interrupted"
