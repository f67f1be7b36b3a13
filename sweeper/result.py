"""``TrialResult``: the only thing a trial reports, once per epoch (and once when it fails).

Ray Tune carries results as flat dicts; ``to_tune`` and ``from_tune`` are the one boundary
between the two, so schedulers, the searcher, the tables, MLflow and progress read fields,
never string keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from sweeper.findings import Finding, join_codes
from sweeper.objective import EPOCH_SECONDS, FLOPS, PARAM_COUNT, Objective
from sweeper.status import Reason, Status

__all__ = ["OBJECTIVE_KEY", "TIME_KEY", "Placement", "TrialResult"]

OBJECTIVE_KEY = "objective"  # the key Tune's schedulers and checkpoint ranking read
TIME_KEY = "epoch"  # the schedulers' time attribute
_METRICS_KEY = "metrics"


@dataclass(frozen=True)
class Placement:
    """Where a trial ran: Ray node, its address, the GPUs it was given, the process."""

    node_id: str = ""
    node_ip: str = ""
    gpu_ids: str = ""
    pid: int | None = None


@dataclass(frozen=True)
class TrialResult:
    """One epoch of one trial (or its failure), as the trial saw it."""

    number: int
    seed: int
    epoch: int
    status: Status
    reason: Reason = Reason.NONE
    objective: float | None = None  # this epoch's value of the objective metric
    best_objective: float | None = None  # the trial's score: its best epoch's value
    best_epoch: int = 0
    metrics: dict[str, float] = field(default_factory=dict)  # what Keras logged this epoch
    placement: Placement = field(default_factory=Placement)
    param_count: int | None = None
    flops: int | None = None  # one image's forward pass, where the layers are countable
    best_metrics: dict[str, float] = field(default_factory=dict)  # Keras's, at the best epoch
    mean_epoch_seconds: float | None = None  # over every epoch the trial ran
    first_epoch_seconds: float | None = None  # what constraints.max_epoch_seconds limits
    lr: float | None = None  # the optimizer's learning rate in this epoch
    epoch_seconds: float | None = None  # training and validation of the epoch
    validation_seconds: float | None = None  # of which validation
    checkpoint_seconds: float | None = None  # writing this epoch's checkpoint; None = none
    optimizer_iterations: int | None = None
    error: str = ""  # a failure's traceback
    resumed_from_epoch: int | None = None  # the first report after a restart from a checkpoint
    resumed_iterations: int | None = None
    rss_mb: float | None = None  # the worker's resident memory
    findings: tuple[Finding, ...] = ()  # what the diagnosis found in this epoch
    probe: dict[str, float] = field(default_factory=dict)  # the epoch's last probe, probe_*

    @property
    def failed(self) -> bool:
        """It ended without a result to rank: failed, or over a hard constraint."""
        return self.status in (Status.FAILED, Status.INFEASIBLE)

    @property
    def healthy(self) -> bool:
        """A result schedulers and Optuna may see: not a failure, a finite objective."""
        return (not self.failed and self.objective is not None
                and math.isfinite(self.objective))

    @property
    def score(self) -> float | None:
        """The trial's best-epoch value when it is a finite number."""
        best = self.best_objective
        return best if best is not None and math.isfinite(best) else None

    def value_of(self, objective: Objective, first: bool) -> float | None:
        """This trial's value of one of the sweep's objectives (None: not known)."""
        if first:
            return self.score
        value = {PARAM_COUNT: self.param_count, FLOPS: self.flops,
                 EPOCH_SECONDS: self.mean_epoch_seconds}.get(
            objective.metric, self.best_metrics.get(objective.metric))
        return float(value) if value is not None and math.isfinite(value) else None

    def values(self, objectives: tuple[Objective, ...]) -> tuple[float | None, ...]:
        return tuple(self.value_of(o, i == 0) for i, o in enumerate(objectives))

    def failure(self, reason: Reason, error: str,
                status: Status = Status.FAILED) -> TrialResult:
        """This trial's failure report, keeping the epochs and the score it reached
        (``status``: infeasible for a trial over a hard constraint)."""
        return replace(self, status=status, reason=reason, objective=self.best_objective,
                       metrics={}, error=error[-4000:], lr=None, epoch_seconds=None,
                       validation_seconds=None, checkpoint_seconds=None,
                       optimizer_iterations=None, resumed_from_epoch=None,
                       resumed_iterations=None, rss_mb=None, probe={})

    def epoch_metrics(self) -> dict[str, float]:
        """The numbers plotted per epoch (history.csv's metric columns, MLflow's metrics)."""
        values: dict[str, Any] = {
            **self.metrics, OBJECTIVE_KEY: self.objective, "best_objective": self.best_objective,
            "lr": self.lr, "epoch_seconds": self.epoch_seconds,
            "validation_seconds": self.validation_seconds,
            "checkpoint_seconds": self.checkpoint_seconds,
            "optimizer_iterations": self.optimizer_iterations, **self.probe}
        return {k: float(v) for k, v in values.items()
                if isinstance(v, int | float) and not isinstance(v, bool)}

    def history_row(self) -> dict[str, Any]:
        """This epoch's columns of history.csv (after trial_id, number and seconds)."""
        return {
            "param_count": self.param_count, "flops": self.flops, **self.metrics,
            TIME_KEY: self.epoch,
            OBJECTIVE_KEY: self.objective, "best_objective": self.best_objective,
            "best_epoch": self.best_epoch, "lr": self.lr, "epoch_seconds": self.epoch_seconds,
            "validation_seconds": self.validation_seconds,
            "checkpoint_seconds": self.checkpoint_seconds,
            "optimizer_iterations": self.optimizer_iterations,
            "resumed_from_epoch": self.resumed_from_epoch,
            "resumed_iterations": self.resumed_iterations, "rss_mb": self.rss_mb,
            **self.probe, "findings": join_codes([f.code for f in self.findings]),
        }

    # -- the Tune boundary
    def to_tune(self) -> dict[str, Any]:
        """The flat dict ``tune.report`` takes (Tune adds its own keys beside these)."""
        return {
            "node_id": self.placement.node_id, "node_ip": self.placement.node_ip,
            "gpu_ids": self.placement.gpu_ids, "pid": self.placement.pid,
            "seed": self.seed, "number": self.number, "param_count": self.param_count,
            "flops": self.flops, "best_metrics": dict(self.best_metrics),
            "mean_epoch_seconds": self.mean_epoch_seconds,
            "first_epoch_seconds": self.first_epoch_seconds,
            _METRICS_KEY: dict(self.metrics), TIME_KEY: self.epoch,
            OBJECTIVE_KEY: self.objective, "best_objective": self.best_objective,
            "best_epoch": self.best_epoch, "status": self.status.value,
            "reason": self.reason.value, "lr": self.lr, "epoch_seconds": self.epoch_seconds,
            "validation_seconds": self.validation_seconds,
            "checkpoint_seconds": self.checkpoint_seconds,
            "optimizer_iterations": self.optimizer_iterations,
            "resumed_from_epoch": self.resumed_from_epoch,
            "resumed_iterations": self.resumed_iterations, "rss_mb": self.rss_mb,
            "error": self.error, "findings": [f.to_json() for f in self.findings],
            "probe": dict(self.probe),
        }

    @classmethod
    def from_tune(cls, result: dict[str, Any] | None) -> TrialResult | None:
        """The record inside a Tune result (None for an empty one: a trial that never
        reported)."""
        if not result or "status" not in result:
            return None
        placement = Placement(str(result.get("node_id") or ""), str(result.get("node_ip") or ""),
                              str(result.get("gpu_ids") or ""), _int(result.get("pid")))
        return cls(
            number=int(result.get("number") or 0), seed=int(result.get("seed") or 0),
            epoch=int(result.get(TIME_KEY) or 0), status=Status(result["status"]),
            reason=Reason(result.get("reason") or Reason.NONE),
            objective=_float(result.get(OBJECTIVE_KEY)),
            best_objective=_float(result.get("best_objective")),
            best_epoch=int(result.get("best_epoch") or 0),
            metrics={k: float(v) for k, v in _nested(result, _METRICS_KEY).items()},
            placement=placement, param_count=_int(result.get("param_count")),
            flops=_int(result.get("flops")),
            best_metrics={k: float(v) for k, v in _nested(result, "best_metrics").items()},
            mean_epoch_seconds=_float(result.get("mean_epoch_seconds")),
            first_epoch_seconds=_float(result.get("first_epoch_seconds")),
            lr=_float(result.get("lr")), epoch_seconds=_float(result.get("epoch_seconds")),
            validation_seconds=_float(result.get("validation_seconds")),
            checkpoint_seconds=_float(result.get("checkpoint_seconds")),
            optimizer_iterations=_int(result.get("optimizer_iterations")),
            resumed_from_epoch=_int(result.get("resumed_from_epoch")),
            resumed_iterations=_int(result.get("resumed_iterations")),
            rss_mb=_float(result.get("rss_mb")), error=str(result.get("error") or ""),
            findings=tuple(Finding.from_json(f) for f in result.get("findings") or ()
                           if isinstance(f, dict)),
            probe={k: float(v) for k, v in _nested(result, "probe").items()})


def _nested(result: dict[str, Any], key: str) -> dict[str, Any]:
    """A dict field of the record, also from a result Tune flattened ("key/name": value, as
    it passes a trial's last result to the searcher's on_trial_complete)."""
    value = result.get(key)
    if isinstance(value, dict):
        return value
    prefix = f"{key}/"
    return {k[len(prefix):]: v for k, v in result.items() if k.startswith(prefix)}


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None
