"""Early stopping across trials: Ray's schedulers and Optuna's pruners, with their decisions
recorded so that a trial's status comes from what was decided, not from Tune's TERMINATED.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune.schedulers import (
    AsyncHyperBandScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    TrialScheduler,
)

from sweeper.spec import SweepSpec
from sweeper.status import Reason, Status

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

TIME_ATTR = "epoch"


class DecisionLog:
    """Scheduler decisions per trial, appended to a file so they survive a driver crash."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._last: dict[str, dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        self._last = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self._last[entry["trial_id"]] = entry

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._load()

    def record(self, trial_id: str, decision: str, epoch: int, by: str) -> None:
        entry = {"trial_id": trial_id, "decision": decision, "epoch": epoch, "by": by}
        self._last[trial_id] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")

    def last(self, trial_id: str) -> dict[str, Any] | None:
        return self._last.get(trial_id)


def final_status(decisions: DecisionLog, trial_id: str, result: dict[str, Any] | None,
                 error: bool) -> tuple[Status, Reason]:
    """The one rule for a finished trial's status (used by the searcher and the tables)."""
    if error:
        return Status.FAILED, Reason.WORKER_DIED
    reported = Status((result or {}).get("status", Status.RUNNING))
    if reported == Status.FAILED:
        return Status.FAILED, Reason((result or {}).get("reason") or Reason.ERROR)
    last = decisions.last(trial_id)
    if last is not None and last["decision"] == "pruned" and reported == Status.RUNNING:
        return Status.PRUNED, Reason.SCHEDULER
    if reported in (Status.COMPLETED, Status.STOPPED_EARLY):
        return reported, Reason.NONE
    return Status.PRUNED, Reason.TIME_LIMIT  # stopped by the sweep's time budget


def _reportable(result: dict[str, Any]) -> bool:
    """Only healthy epochs reach a scheduler: never a failure, never a NaN."""
    value = result.get("objective")
    return (result.get("status") != Status.FAILED and isinstance(value, int | float)
            and math.isfinite(value))


class _RecordingController:
    """Hands a scheduler the real controller, recording trials it stops directly."""

    def __init__(self, controller: Any, on_stop: Callable[[Trial], None]) -> None:
        self._controller = controller
        self._on_stop = on_stop

    def stop_trial(self, trial: Trial) -> None:
        self._on_stop(trial)
        self._controller.stop_trial(trial)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._controller, name)


class RecordingScheduler(TrialScheduler):
    """Wraps a scheduler: forwards everything, records STOP and PAUSE as decisions, and tells
    Optuna each healthy epoch first (Tune skips the searcher for the result it stops on)."""

    def __init__(self, inner: TrialScheduler, decisions: DecisionLog, max_epochs: int,
                 name: str, bridge: Any) -> None:
        super().__init__()
        self.inner = inner
        self.decisions = decisions
        self.bridge = bridge
        self.max_epochs = max_epochs
        self.name = name
        self._epoch: dict[str, int] = {}

    @property
    def metric(self) -> str | None:
        return self.inner.metric

    @property
    def supports_buffered_results(self) -> bool:
        # Buffered results would let a trial run several epochs past a STOP or PAUSE.
        return False

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return bool(self.inner.set_search_properties(metric, mode, **spec))

    def _wrap(self, controller: Any) -> Any:  # duck-types the TuneController
        return _RecordingController(controller, self._stopped_directly)

    def _stopped_directly(self, trial: Trial) -> None:
        epoch = self._epoch.get(trial.trial_id, 0)
        if epoch < self.max_epochs:
            self.decisions.record(trial.trial_id, "pruned", epoch, self.name)

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        self.inner.on_trial_add(self._wrap(tune_controller), trial)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        self.inner.on_trial_error(self._wrap(tune_controller), trial)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        self.bridge.observe(trial.trial_id, result)
        if not _reportable(result):
            return TrialScheduler.CONTINUE
        epoch = int(result.get(TIME_ATTR, 0))
        self._epoch[trial.trial_id] = epoch
        decision = self.inner.on_trial_result(self._wrap(tune_controller), trial, result)
        running = result.get("status") == Status.RUNNING
        if decision == TrialScheduler.STOP and running and epoch < self.max_epochs:
            self.decisions.record(trial.trial_id, "pruned", epoch, self.name)
        elif decision == TrialScheduler.PAUSE and running:
            self.decisions.record(trial.trial_id, "paused", epoch, self.name)
        return str(decision)

    def on_trial_complete(self, tune_controller: Any, trial: Trial,
                          result: dict[str, Any]) -> None:
        self.inner.on_trial_complete(self._wrap(tune_controller), trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        self.inner.on_trial_remove(self._wrap(tune_controller), trial)

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        trial = self.inner.choose_trial_to_run(self._wrap(tune_controller))
        if trial is not None:
            last = self.decisions.last(trial.trial_id)
            if last is not None and last["decision"] == "paused":
                self.decisions.record(trial.trial_id, "resumed", last["epoch"], self.name)
        return trial

    def debug_string(self) -> str:
        return self.inner.debug_string()


class OptunaPrunerScheduler(FIFOScheduler):
    """Asks the study's Optuna pruner after every epoch (the wrapper has reported the value),
    so Optuna's own algorithms decide; none is rewritten here."""

    def __init__(self, bridge: Any) -> None:
        super().__init__()
        self.bridge = bridge

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        if self.bridge.should_prune(trial.trial_id):
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE


def make_scheduler(spec: SweepSpec, decisions: DecisionLog, bridge: Any) -> RecordingScheduler:
    """The file's scheduler, wrapped to record its decisions."""
    s = spec.scheduler
    mode = spec.objective.direction
    max_epochs = spec.budget.max_epochs
    common: dict[str, Any] = {"time_attr": TIME_ATTR, "metric": "objective", "mode": mode}
    inner: TrialScheduler
    if s.kind == "asha":
        inner = AsyncHyperBandScheduler(**common, max_t=max_epochs,
                                        grace_period=min(s.grace_period, max_epochs),
                                        reduction_factor=s.reduction_factor)
    elif s.kind == "hyperband":
        inner = HyperBandScheduler(**common, max_t=max_epochs,
                                   reduction_factor=s.reduction_factor)
    elif s.kind == "median":
        inner = MedianStoppingRule(**common, grace_period=s.grace_period,
                                   min_samples_required=2)
    elif s.kind == "fifo":
        inner = FIFOScheduler()
    else:
        inner = OptunaPrunerScheduler(bridge)
    return RecordingScheduler(inner, decisions, max_epochs, s.kind, bridge)
