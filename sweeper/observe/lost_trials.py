"""Trials Tune ends without calling a hook: recorded like any other, so none goes missing.

When Tune reuses a worker for a new trial and the reset fails ("Could not re-use actor for
trial ...: Trainable runner reuse requires reset_config() to be implemented and return
True"), it marks the trial ERROR and tells neither the searcher nor any callback: the trial
stayed RUNNING in Optuna and was absent from trials.csv and MLflow. After each step of
Tune's loop this callback finds such trials and ends them through the normal hooks, as
failed with reason ``not_placed``. It runs within the step the trial ended in: the next
step would wait for a new trial from the searcher, which waits for this one to end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from sweeper.status import Decision, Reason, Status

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

    from sweeper.observe.recorder import SweepRecorder

__all__ = ["LostTrials"]


class LostTrials(Callback):
    """After every step: an ERROR trial without a terminal row was never recorded."""

    def __init__(self, recorder: SweepRecorder, tell_tune: Callable[[Trial], None],
                 callbacks: list[Callback]) -> None:
        self.recorder = recorder
        self.tell_tune = tell_tune  # the searcher and the scheduler
        self.callbacks = callbacks  # the recorder first: the others read its rows

    def _unrecorded(self, trial: Trial) -> bool:
        row = self.recorder.rows.get(trial.trial_id)
        return trial.status == trial.ERROR and (row is None
                                                or not Status(row["status"]).terminal)

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        for trial in trials:
            if not self._unrecorded(trial):
                continue
            row = self.recorder.rows.get(trial.trial_id) or {}
            if self.recorder.decisions.ended(trial.trial_id) is None:
                self.recorder.decisions.record(trial.trial_id, Decision.ENDED,
                                               int(row.get("epochs") or 0), "tune",
                                               Reason.NOT_PLACED)
            self.tell_tune(trial)
            for callback in self.callbacks:
                callback.on_trial_start(iteration=iteration, trials=trials, trial=trial)
                callback.on_trial_complete(iteration=iteration, trials=trials, trial=trial)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.on_step_end(-1, trials)
