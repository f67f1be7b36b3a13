"""Steering a running sweep: the driver applies ``sweeper stop`` and ``sweeper extend``
requests between Tune's steps, and ends the sweep the same way once a trial reaches
``budget.target``.

``sweep.json`` is the durable truth of what was asked: the trial budget, the time limit
(an override), a stop in effect, and the requests applied (each once, by id). The budget in
memory follows it: when a request applies, and when a restored driver starts (Tune's saved
state is up to 10 s older than the last request applied).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from sweeper.control.extension import grid_overrun
from sweeper.notify import Notifier
from sweeper.objective import Objective
from sweeper.observe.tracking.events import EventKind
from sweeper.observe.tracking.tracker import MlflowTracker
from sweeper.pruning.budget import SweepBudget, extended_time_limit
from sweeper.result import TrialResult
from sweeper.search.searcher import OptunaSearcher
from sweeper.status import DriverPhase, Reason, StopCause
from sweeper.store.meta import SweepMeta
from sweeper.store.requests import Answer, RequestKind, SteeringRequest, pending_requests
from sweeper.store.requests import write_answer as store_answer

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

    from sweeper.driver.heartbeat import DriverHeartbeat

__all__ = ["Steering"]

POLL_EVERY_S = 0.25


class Steering(Callback):
    """A Tune callback; ``attach`` gives it the driver's sweep.json record, heartbeat and
    notifier (none of which is pickled with Tune's state)."""

    def __init__(self, folder: Path, budget: SweepBudget, searcher: OptunaSearcher,
                 tracker: MlflowTracker, objective: Objective, target: float | None,
                 grid_points: int | None) -> None:
        self.folder = Path(folder)
        self.budget = budget
        self.searcher = searcher
        self.tracker = tracker
        self.objective = objective
        self.target = target
        self.grid_points = grid_points  # a grid's size: no more trials than points
        self._reset()

    def _reset(self) -> None:
        self._meta: SweepMeta | None = None
        self._notifier: Notifier | None = None
        self._heartbeat: DriverHeartbeat | None = None
        self._last_poll = 0.0

    def __getstate__(self) -> dict[str, Any]:
        keep = ("folder", "budget", "searcher", "tracker", "objective", "target",
                "grid_points")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    def attach(self, meta: SweepMeta, notifier: Notifier, heartbeat: DriverHeartbeat) -> None:
        self._meta, self._notifier, self._heartbeat = meta, notifier, heartbeat

    # -- the budget follows sweep.json
    def sync(self) -> None:
        meta = self._meta
        if meta is None:
            return
        if meta.trial_budget is not None:
            self.budget.trials = meta.trial_budget
        if meta.overrides.get("time_limit") is not None:
            self.budget.set_time_limit(float(meta.overrides["time_limit"]))
        if meta.pending_time_s:  # an ended sweep's extension: beyond the time restored
            limit = extended_time_limit(self.budget.time_limit_s, self.budget.spent_s(),
                                        meta.pending_time_s)
            self.budget.set_time_limit(limit)
            meta.overrides["time_limit"], meta.pending_time_s = limit, None
            meta.write(self.folder)
        if meta.stop_cause is None:
            self.budget.reopen()  # a stop restored from Tune's state that an extend lifted
        else:
            self._close(meta.stop_cause)

    def _close(self, cause: StopCause) -> None:
        self.budget.close(cause)
        if cause == StopCause.USER_NOW:
            self.budget.stop(Reason.STOPPED_BY_USER)

    # -- Tune callback hooks
    def setup(self, **info: Any) -> None:  # type: ignore[override]
        self.sync()
        if self._heartbeat is not None:
            self._heartbeat.set_phase(DriverPhase.RUNNING)

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if time.monotonic() - self._last_poll < POLL_EVERY_S or self._meta is None:
            return
        self._last_poll = time.monotonic()
        for path, request in pending_requests(self.folder):
            if request is None:
                self._answer(path, path.name.split("-")[-1].split(".")[0], False,
                             "not a request sweeper wrote; ignored")
            elif request.id in self._meta.applied_requests:  # a driver crashed before
                self._answer(path, request.id, True, "already applied")  # it answered
            elif self._heartbeat is None or request.driver_id != self._heartbeat.driver_id:
                self._answer(path, request.id, False,
                             "it was made for an earlier driver of the sweep, which ended; "
                             "ask again")
            else:
                applied, message = self._apply(request, self._meta)
                self._answer(path, request.id, applied, message)

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial,
                        result: dict[str, Any], **info: Any) -> None:
        if self.target is None or self.budget.closed is not None or self._meta is None:
            return
        record = TrialResult.from_tune(result)
        if record is None or not record.healthy or record.objective is None:
            return
        value = float(record.objective)
        if not self.objective.reaches(value, self.target):
            return
        meta = self._meta
        meta.stop_cause = StopCause.TARGET
        meta.history.append({"target_reached_at": time.time(), "trial": record.number,
                             "value": value})
        meta.write(self.folder)
        self._close(StopCause.TARGET)
        self._note(f"trial {record.number} reached the target: {self.objective.metric} "
                   f"{value:.4f} (target {self.target:g}); no new trial starts, the "
                   "running ones run to their end")

    # -- requests
    def answer_left(self, why: str) -> None:
        """The trials are over: requests still waiting cannot apply."""
        for path, request in pending_requests(self.folder):
            request_id = request.id if request is not None else path.name
            applied = request is not None and request.kind != RequestKind.EXTEND
            self._answer(path, request_id, applied, why)

    def _answer(self, path: Path, request_id: str, applied: bool, message: str) -> None:
        store_answer(self.folder, path, Answer(request_id, applied, message, time.time()))

    def _apply(self, request: SteeringRequest, meta: SweepMeta) -> tuple[bool, str]:
        if request.id in meta.applied_requests:
            return True, "already applied"
        if request.kind == RequestKind.EXTEND:
            refusal = self._refuse_extension(request)
            if refusal is not None:
                return False, refusal
        running = len(self.searcher.live)
        if request.kind == RequestKind.STOP:
            if self.budget.closed is not None:
                return True, f"already stopping ({self.budget.closed.value}): no new trial " \
                             f"starts; {running} running trial(s) run to their end"
            meta.stop_cause = StopCause.USER
            message = (f"stopping: no new trial starts; {running} running trial(s) run to "
                       "their end, then the sweep ends")
        elif request.kind == RequestKind.STOP_NOW:
            meta.stop_cause = StopCause.USER_NOW
            message = (f"stopping now: {running} running trial(s) end at once as pruned "
                       f"(reason {Reason.STOPPED_BY_USER.value}), then the sweep ends")
        else:
            message = self._extend(request, meta)
        meta.applied_requests.append(request.id)
        meta.history.append({"request": request.kind.value, "at": time.time(),
                             "id": request.id, "trials": request.trials,
                             "time_s": request.time_s})
        meta.write(self.folder)  # durable before it takes effect
        if meta.stop_cause is not None:
            self._close(meta.stop_cause)
        self._note(f"`sweeper {request.kind.value.replace('_now', ' --now')}`: {message}")
        return True, message

    def _refuse_extension(self, request: SteeringRequest) -> str | None:
        if self.budget.closed is not None:
            return (f"the sweep is stopping ({self.budget.closed.value}); extend it once it "
                    "has ended, which continues the same sweep")
        if self.budget.over() is not None:
            return ("the sweep reached its time limit and its trials are ending; extend it "
                    "once it has ended, which continues the same sweep")
        if request.trials and self.budget.trials is not None:
            return grid_overrun(self.grid_points, self.budget.trials, self.searcher.issued,
                                request.trials)
        return None

    def _extend(self, request: SteeringRequest, meta: SweepMeta) -> str:
        said = []
        if request.trials:
            total = (self.budget.trials or 0) + request.trials
            self.budget.trials = total
            meta.trial_budget = total
            said.append(f"{total} trials in all ({self.searcher.issued} started so far)")
        if request.time_s:
            limit = extended_time_limit(self.budget.time_limit_s, self.budget.spent_s(),
                                        request.time_s)
            self.budget.set_time_limit(limit)
            meta.overrides["time_limit"] = limit
            said.append(f"a time limit of {limit:.0f} s ({self.budget.spent_s():.0f} s "
                        "spent)")
        self.tracker.emit({"kind": EventKind.BUDGET, "planned": self.budget.trials,
                           "time_limit_s": self.budget.time_limit_s})
        return "the sweep now has " + " and ".join(said)

    def _note(self, text: str) -> None:
        if self._notifier is not None:
            self._notifier.note(text)
