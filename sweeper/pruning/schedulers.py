"""Early stopping across trials: Ray's schedulers and Optuna's pruners, wrapped so that each
STOP and PAUSE is recorded as a decision (``decisions``) before Tune acts on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ray.tune.schedulers import (
    AsyncHyperBandScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    TrialScheduler,
)

from sweeper.config.schema import SweepSpec
from sweeper.pruning.decisions import DecisionLog
from sweeper.result import OBJECTIVE_KEY, TIME_KEY, TrialResult
from sweeper.status import Decision, Status

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["OptunaPrunerScheduler", "PruningBridge", "RecordingScheduler", "make_scheduler"]


class PruningBridge(Protocol):
    """What the schedulers need of the searcher: every result first, and Optuna's verdict."""

    def observe(self, trial_id: str, result: TrialResult) -> None: ...

    def should_prune(self, trial_id: str) -> bool: ...


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
                 name: str, bridge: PruningBridge) -> None:
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
            self.decisions.record(trial.trial_id, Decision.PRUNED, epoch, self.name)

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        self.inner.on_trial_add(self._wrap(tune_controller), trial)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        self.inner.on_trial_error(self._wrap(tune_controller), trial)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        record = TrialResult.from_tune(result)
        if record is None:
            return TrialScheduler.CONTINUE
        self.bridge.observe(trial.trial_id, record)
        if not record.healthy:
            return TrialScheduler.CONTINUE
        self._epoch[trial.trial_id] = record.epoch
        decision = self.inner.on_trial_result(self._wrap(tune_controller), trial, result)
        running = record.status == Status.RUNNING
        if decision == TrialScheduler.STOP and running and record.epoch < self.max_epochs:
            self.decisions.record(trial.trial_id, Decision.PRUNED, record.epoch, self.name)
        elif decision == TrialScheduler.PAUSE and running:
            self.decisions.record(trial.trial_id, Decision.PAUSED, record.epoch, self.name)
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
            if last is not None and last.decision == Decision.PAUSED:
                self.decisions.record(trial.trial_id, Decision.RESUMED, last.epoch, self.name)
        return trial

    def debug_string(self) -> str:
        return self.inner.debug_string()


class OptunaPrunerScheduler(FIFOScheduler):
    """Asks the study's Optuna pruner after every epoch (the wrapper has reported the value),
    so Optuna's own algorithms decide; none is rewritten here."""

    def __init__(self, bridge: PruningBridge) -> None:
        super().__init__()
        self.bridge = bridge

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        if self.bridge.should_prune(trial.trial_id):
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE


def make_scheduler(spec: SweepSpec, decisions: DecisionLog,
                   bridge: PruningBridge) -> RecordingScheduler:
    """The file's scheduler, wrapped to record its decisions."""
    s = spec.scheduler
    mode = spec.objective.direction
    max_epochs = spec.budget.max_epochs
    common: dict[str, Any] = {"time_attr": TIME_KEY, "metric": OBJECTIVE_KEY, "mode": mode}
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
