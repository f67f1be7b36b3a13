"""Early stopping across trials: Ray's schedulers and Optuna's pruners, wrapped so that each
STOP and PAUSE is recorded as a decision (``decisions``) before Tune acts on it.
"""

from __future__ import annotations

import contextlib
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
from sweeper.pruning.budget import SweepBudget
from sweeper.pruning.decisions import DecisionLog
from sweeper.pruning.recycling import WorkerRecycler
from sweeper.result import OBJECTIVE_KEY, TIME_KEY, TrialResult
from sweeper.status import Decision, Status

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["OptunaPrunerScheduler", "PruningBridge", "RecordingScheduler", "make_scheduler"]


class PruningBridge(Protocol):
    """What the schedulers need of the searcher: every result first, and Optuna's verdict."""

    def observe(self, trial_id: str, result: TrialResult) -> None: ...

    def should_prune(self, trial_id: str) -> bool: ...

    def already_ended(self, trial_id: str) -> bool:
        """Whether Optuna was told the trial's end (it finished after Tune's last save)."""
        ...

    def is_live(self, trial_id: str) -> bool:
        """Whether the trial was handed out and its end not told yet."""
        ...

    def withdraw(self, trial_id: str) -> None:
        """Take back a trial that never started (the sweep stopped while it waited)."""
        ...


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
    Optuna each healthy epoch first (Tune skips the searcher for the result it stops on).

    It is also where the sweep ends trials itself, through Tune's normal ``stop_trial`` (so
    every hook runs): all live trials once the budget is over, trials not started yet once
    it is closed (``sweeper stop``), a trial the memory check ended, and a restored trial
    whose end Optuna already knows. Tune asks
    ``choose_trial_to_run`` on every step of its loop, which makes it the place to look."""

    def __init__(self, inner: TrialScheduler, decisions: DecisionLog, max_epochs: int,
                 name: str, bridge: PruningBridge, budget: SweepBudget,
                 recycler: WorkerRecycler | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.recycler = recycler or WorkerRecycler(None)
        self.decisions = decisions
        self.bridge = bridge
        self.budget = budget
        self.max_epochs = max_epochs
        self.name = name
        self._epoch: dict[str, int] = {}
        self._controller: Any = None  # Tune's, as it hands itself to schedulers
        # whether a trial ever started (the recorder has its row); wiring sets it
        self.started: Callable[[str], bool] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_controller"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "recycler" not in state:  # pickled in tuner.pkl before workers were recycled
            self.recycler = WorkerRecycler(None)
        self.__dict__.setdefault("started", None)  # pickled before stops took trials back

    def has_started(self, trial_id: str) -> bool:
        """A trial Tune requeued (a lost worker, a restore) has started, even without a
        result; without the recorder's word, every trial counts as started."""
        return self.started is None or self.started(trial_id)

    def tell_lost(self, trial: Trial) -> None:
        """Tell the searcher and the scheduler that Tune ended a trial without saying so
        (a failed reset of a reused worker). The searcher through Tune's search_alg, whose
        concurrency limiter would otherwise count the trial as running, and the scheduler
        because HyperBand would wait for its result before it closes the bracket: either
        way Tune would wait for ever."""
        if self._controller is None:
            return
        if self.bridge.is_live(trial.trial_id):
            self._controller.search_alg.on_trial_complete(trial.trial_id)
        with contextlib.suppress(KeyError):  # a scheduler that never tracked it
            self.inner.on_trial_error(self._wrap(self._controller), trial)

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
        over = self.budget.over()
        if over is not None:  # e.g. HyperBand closing a bracket as the sweep ends
            self.decisions.record(trial.trial_id, Decision.ENDED, epoch, "sweep", over)
        elif epoch < self.max_epochs:
            self.decisions.record(trial.trial_id, Decision.PRUNED, epoch, self.name)

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        self._controller = tune_controller
        self.inner.on_trial_add(self._wrap(tune_controller), trial)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        bracket = self._hyperband_bracket(trial)
        self.inner.on_trial_error(self._wrap(tune_controller), trial)
        self._process_left_bracket(tune_controller, bracket)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        record = TrialResult.from_tune(result)
        if record is None:
            return TrialScheduler.CONTINUE
        self.bridge.observe(trial.trial_id, record)
        self.recycler.observe(record)
        if not record.healthy:
            return TrialScheduler.CONTINUE
        self._epoch[trial.trial_id] = record.epoch
        if record.status != Status.RUNNING:
            # the trial's last report (completed, stopped early, pruned by its diagnosis):
            # it ends by itself, so a PAUSE would only resume it past its end; the inner
            # scheduler gets it in on_trial_complete
            return TrialScheduler.CONTINUE
        decision = self.inner.on_trial_result(self._wrap(tune_controller), trial, result)
        if decision == TrialScheduler.STOP and record.epoch < self.max_epochs:
            self.decisions.record(trial.trial_id, Decision.PRUNED, record.epoch, self.name)
        elif decision == TrialScheduler.PAUSE:
            self.decisions.record(trial.trial_id, Decision.PAUSED, record.epoch, self.name)
            self.recycler.retire_if_grown(tune_controller, trial, result)
        return str(decision)

    def on_trial_complete(self, tune_controller: Any, trial: Trial,
                          result: dict[str, Any]) -> None:
        record = TrialResult.from_tune(result)
        bracket = self._hyperband_bracket(trial)
        if record is not None and record.healthy:
            self.inner.on_trial_complete(self._wrap(tune_controller), trial, result)
        elif self._tracks(trial):
            # a failed trial's report holds no value of this epoch (None before any
            # epoch): ASHA would rank it; its earlier epochs are in the rungs already
            self.inner.on_trial_remove(self._wrap(tune_controller), trial)
        self._process_left_bracket(tune_controller, bracket)
        self.recycler.retire_if_grown(tune_controller, trial, result)

    def _tracks(self, trial: Trial) -> bool:
        """Whether the inner scheduler still holds the trial (ASHA and HyperBand keep a
        table of them; the others keep nothing to forget)."""
        info = getattr(self.inner, "_trial_info", None)
        return info is None or trial in info or trial.trial_id in info

    def _hyperband_bracket(self, trial: Trial) -> Any:
        if not isinstance(self.inner, HyperBandScheduler):
            return None
        entry = self.inner._trial_info.get(trial)
        return entry[0] if entry else None

    def _process_left_bracket(self, tune_controller: Any, bracket: Any) -> None:
        """Ray's HyperBand halves a bracket when a trial reaches its milestone, or when one
        is removed before the bracket was first halved; a trial that ends by itself (done,
        stopped early, diagnosed, failed) after that leaves the others paused at the
        milestone for ever. Halve it here once every trial left has reached it."""
        if bracket is None or not isinstance(self.inner, HyperBandScheduler):
            return
        left = bracket.current_trials()
        if left and bracket.cur_iter_done() and not any(
                t.status == t.RUNNING for t in left):
            self.inner._process_bracket(self._wrap(tune_controller), bracket)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        self.inner.on_trial_remove(self._wrap(tune_controller), trial)

    def _end_trials(self, tune_controller: Any) -> None:
        """Stop the live trials the sweep itself ends (see the class docstring)."""
        over = self.budget.over()
        for trial in list(tune_controller.get_live_trials()):
            if trial.status not in (trial.PENDING, trial.RUNNING, trial.PAUSED):
                continue
            epoch = self._epoch.get(trial.trial_id, 0)
            if self.bridge.already_ended(trial.trial_id):
                tune_controller.stop_trial(trial)
            elif self.decisions.ended(trial.trial_id) is not None:
                tune_controller.stop_trial(trial)  # e.g. its worker was killed for memory
            elif self.budget.closed is not None and trial.status == trial.PENDING \
                    and not self.has_started(trial.trial_id):
                # a stop (also --now) ends running trials or lets them finish; one that
                # never started is taken back: first the decision, so a crash in between
                # leaves it to be withdrawn again, never recorded as a trial that ran
                self.decisions.record(trial.trial_id, Decision.WITHDRAWN, 0, "sweep")
                self.bridge.withdraw(trial.trial_id)
                tune_controller.stop_trial(trial)
            elif over is not None:
                self.decisions.record(trial.trial_id, Decision.ENDED, epoch, "sweep", over)
                tune_controller.stop_trial(trial)

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        self._end_trials(tune_controller)
        if self.budget.over() is not None:
            return None
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


def make_scheduler(spec: SweepSpec, decisions: DecisionLog, bridge: PruningBridge,
                   budget: SweepBudget) -> RecordingScheduler:
    """The file's scheduler, wrapped to record its decisions."""
    s = spec.scheduler
    mode = spec.primary.direction
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
    return RecordingScheduler(inner, decisions, max_epochs, s.kind, bridge, budget,
                              WorkerRecycler(spec.resources.worker_memory_growth_mb))
