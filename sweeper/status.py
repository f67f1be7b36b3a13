"""Every state a trial, a sweep or a scheduler decision can be in: enums, never strings.

The bottom layer: any folder may import it. A status written to a file (trials.csv,
sweep.json, MLflow tags) is the enum's value, and read back through the enum.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Decision",
    "DriverPhase",
    "DriverState",
    "Reason",
    "Status",
    "StopCause",
    "SweepStatus",
    "TrackedStatus",
]


class Status(StrEnum):
    """Where a trial stands. Terminal: completed, pruned, stopped_early, failed, infeasible."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"  # ran its max_epochs
    PRUNED = "pruned"  # stopped by the scheduler or pruner, or when the sweep ended
    STOPPED_EARLY = "stopped_early"  # its own early stopping ended it
    FAILED = "failed"  # oom, nan_loss, error (reason says which)
    INFEASIBLE = "infeasible"  # the architecture cannot exist, or it is over a constraint

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
    TIME_LIMIT = "time_limit"  # the sweep's time limit ended it
    SWEEP_STOPPED = "sweep_stopped"  # the sweep stopped (too many failures in a row, a stop)
    STOPPED_BY_USER = "stopped_by_user"  # `sweeper stop --now` (or a stop before it started)
    NOT_PLACED = "not_placed"  # Tune could not start it on a worker
    DIAGNOSIS = "diagnosis"  # a severe finding (the trial's ``diagnosis`` column says which)
    CONSTRAINT = "constraint"  # over one of the file's hard constraints (infeasible)
    INTERRUPTED = "interrupted"


class SweepStatus(StrEnum):
    """A whole sweep, as ``sweep.json`` and the MLflow parent run record it."""

    RUNNING = "running"
    INTERRUPTED = "interrupted"
    FINISHED = "finished"
    STOPPED = "stopped"  # ended by `sweeper stop`
    FAILED = "failed"
    # never written: what `status` and `list` show for a sweep marked running whose driver
    # is dead (its heartbeat stopped); `sweeper resume` continues it
    CRASHED = "crashed"

    @property
    def extendable(self) -> bool:
        """Whether ``sweeper extend`` continues it in a new driver (a running sweep's own
        driver takes the new budget instead; a failed sweep is not run again)."""
        return self in (SweepStatus.FINISHED, SweepStatus.STOPPED, SweepStatus.INTERRUPTED,
                        SweepStatus.CRASHED)


class StopCause(StrEnum):
    """Why a sweep stopped taking new trials before its budget was spent."""

    USER = "stop"  # `sweeper stop`: running trials run to their own end
    USER_NOW = "stop_now"  # `sweeper stop --now`: running trials end at once
    TARGET = "target"  # a trial reached budget.target: as `stop`

    @property
    def by_user(self) -> bool:
        return self in (StopCause.USER, StopCause.USER_NOW)


class DriverState(StrEnum):
    """What a sweep's heartbeat says about the driver that runs it."""

    ALIVE = "alive"
    DEAD = "dead"  # its heartbeat stopped, or its process is gone
    UNKNOWN = "unknown"  # no heartbeat: a sweep started by an older sweeper


class Decision(StrEnum):
    """What a scheduler or pruner decided about a running trial (``decisions.jsonl``)."""

    PRUNED = "pruned"
    PAUSED = "paused"
    RESUMED = "resumed"
    ENDED = "ended"  # ended by the sweep, not by its scheduler: the entry's reason says why
    WITHDRAWN = "withdrawn"  # waiting to start when the sweep stopped: it never ran


class TrackedStatus(StrEnum):
    """States only the MLflow runs carry: a trial open when the sweep was interrupted, and a
    run of a trial Tune's restored state never knew."""

    INTERRUPTED = "interrupted"
    SUPERSEDED = "superseded"


class DriverPhase(StrEnum):
    STARTING = "starting"  # loading data, connecting to Ray
    RUNNING = "running"  # trials run; stop and extend requests apply
    ENDING = "ending"  # trials are over: the best model, plots, MLflow
    EXITED = "exited"  # the driver returned (its last beat)
