"""The end of a sweep, in order: an interrupt saves state and says how to resume; otherwise
the best trial's model is exported and scored on the test split, plots are drawn, the
doctor's report is written, MLflow gets the summary, and sweep.json says how it ended."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sweeper.config.schema import SweepSpec
from sweeper.control.steer import ENDING_ANSWER
from sweeper.data.dataset import Dataset
from sweeper.driver.best_model import export_best_model
from sweeper.driver.signals import SignalCatcher
from sweeper.errors import Interrupted, SweepFailed, UserInputError
from sweeper.notify import Notifier
from sweeper.observe.recorder import SweepRecorder
from sweeper.observe.tracking.config import TrackingConfig
from sweeper.observe.tracking.events import EventKind
from sweeper.observe.tracking.tracker import EVENTS_FILE, MlflowTracker
from sweeper.pruning.budget import SweepBudget
from sweeper.pruning.decisions import DecisionLog
from sweeper.report.doctor import DOCTOR_MD, write_doctor
from sweeper.status import DriverPhase, Reason, Status, StopCause, SweepStatus
from sweeper.store.best import BestTrial, best_trial, scored_trials
from sweeper.store.layout import BEST_MODEL, DECISIONS_FILE, HISTORY_CSV, TRIALS_CSV
from sweeper.store.meta import SweepMeta
from sweeper.store.pareto import front_objectives, sweep_best, sweep_pick
from sweeper.store.study import open_study
from sweeper.store.tables import read_table
from sweeper.store.test_score import TestScore

if TYPE_CHECKING:
    from sweeper.driver.heartbeat import DriverHeartbeat
    from sweeper.driver.steering import Steering

__all__ = ["SweepOutcome", "already_ended", "finish"]


@dataclass
class SweepOutcome:
    name: str
    folder: Path
    trials: pd.DataFrame
    best: BestTrial | None
    metric: str
    test: TestScore | None = None
    status: SweepStatus = SweepStatus.FINISHED


def finish(tuner: Any, spec: SweepSpec, folder: Path, meta: SweepMeta, signals: SignalCatcher,
           tracker: MlflowTracker, budget: SweepBudget, dataset: Dataset,
           notifier: Notifier, steering: Steering | None = None,
           heartbeat: DriverHeartbeat | None = None) -> SweepOutcome:
    """Run the tuner to its end and close the sweep (raises Interrupted or SweepFailed)."""
    for damaged in DecisionLog(folder / DECISIONS_FILE).skipped:
        notifier.warn(damaged)
    try:
        tuner.fit()
    except KeyboardInterrupt:
        signals.code = signals.code or 130
    if heartbeat is not None:
        heartbeat.set_phase(DriverPhase.ENDING)
    if steering is not None:
        steering.answer_left(ENDING_ANSWER)
    meta.spent_s = budget.spent_s()
    trials = read_table(folder / TRIALS_CSV)
    if budget.over() == Reason.TIME_LIMIT and signals.code is None:
        notifier.note(f"sweep {spec.name}: time limit reached after {budget.spent_s():.0f} s; "
                      "trials still running ended as pruned (reason time_limit)")
    if signals.code is not None:
        _interrupted(trials, spec, folder, meta, tracker, signals.code, notifier)
    _say_stop(spec, meta, notifier)
    objective = spec.primary.objective()
    best = _best(trials, spec, notifier)  # the best-model artifact, --register-model, MLflow
    counts = trials["status"].value_counts().to_dict() if not trials.empty else {}
    failure = _failure(trials, spec, folder, best, budget)
    if failure and best is None and meta.stop_cause is not None and meta.stop_cause.by_user \
            and budget.stopped != Reason.SWEEP_STOPPED:
        notifier.warn(failure)  # stopped before a trial scored: stopped, not failed
        failure = None
    model_path = None
    test: TestScore | None = None
    if best is not None:
        model_path = export_best_model(tuner, best.trial_id, objective, folder / BEST_MODEL)
    if model_path is not None and best is not None:
        test = _score_on_test(model_path, dataset, best, spec, notifier)
    meta.test = test.to_dict() if test is not None else None
    # sweep.yaml went to MLflow at the start, redacted; never upload the raw file
    artifacts: list[tuple[str, str | None]] = [
        (str(folder / TRIALS_CSV), None), (str(folder / HISTORY_CSV), None)]
    model_folder = _model_folder(meta, best) if model_path is not None else None
    if model_path is not None and model_folder is not None:
        logged = model_path
        if model_folder != "model":  # its own file: a replay of an earlier end's upload
            logged = folder / model_folder / BEST_MODEL  # must not send this one
            logged.parent.mkdir(exist_ok=True)
            shutil.copyfile(model_path, logged)
        artifacts.append((str(logged), model_folder))
        meta.model_artifact = f"{model_folder}/{BEST_MODEL}"
        meta.model_trial_id = best.trial_id if best is not None else None
    artifacts += [(str(p), "plots") for p in _plots(spec, folder, trials, best, notifier)]
    doctor = write_doctor(spec.name, trials, spec.space, folder / DOCTOR_MD, notifier)
    if doctor is not None:  # a failed report is a warning; the sweep is done
        artifacts.append((str(doctor), None))
    status = SweepStatus.FAILED if failure else SweepStatus.STOPPED \
        if meta.stop_cause is not None and meta.stop_cause.by_user else SweepStatus.FINISHED
    # an extended sweep's end runs again: its summary at the next step
    tracker.emit({"kind": EventKind.SWEEP_END, "status": status, "counts": counts,
                  "artifacts": artifacts, "best_score": best.score if best else None,
                  "best_number": best.number if best else None,
                  "best_trial_id": best.trial_id if best else None, "test": meta.test,
                  "step": meta.ends, "at_ms": int(time.time() * 1000)})
    meta.ends += 1
    if meta.register_model and model_path is not None and best is not None \
            and best.trial_id != meta.registered_trial_id:  # again only for a new best
        tracker.emit({"kind": EventKind.REGISTER, "name": meta.register_model,
                      "artifact_path": meta.model_artifact})
        meta.registered_trial_id = best.trial_id
    close_tracking(tracker, folder, 120, notifier)
    meta.status = status
    meta.write(folder)
    if failure:
        raise SweepFailed(failure)
    return SweepOutcome(spec.name, folder, trials, best, spec.primary.metric, test, status)


def _model_folder(meta: SweepMeta, best: BestTrial | None) -> str | None:
    """Where the parent run keeps this end's best model: ``model/`` at the first end; an
    extended sweep's later end whose best changed logs it beside, under ``model-<end>/``, so
    a model version registered from an earlier end keeps its file (the registry points at
    the run's artifact, it copies nothing); None when the best is the one logged already."""
    if meta.ends == 0 or meta.model_artifact is None:
        return "model"
    if best is None or best.trial_id == meta.model_trial_id:
        return None
    return f"model-{meta.ends}"


def _say_stop(spec: SweepSpec, meta: SweepMeta, notifier: Notifier) -> None:
    if meta.stop_cause == StopCause.USER:
        notifier.note(f"sweep {spec.name} stopped by `sweeper stop`: no trial started after "
                      "it, and the running ones ran to their end")
    elif meta.stop_cause == StopCause.USER_NOW:
        notifier.note(f"sweep {spec.name} stopped by `sweeper stop --now`: the trials that "
                      f"were running ended as pruned ({Reason.STOPPED_BY_USER.value})")
    elif meta.stop_cause == StopCause.TARGET:
        notifier.note(f"sweep {spec.name} reached its target "
                      f"({spec.primary.metric} {spec.budget.target:g}); the trials that were "
                      "running ran to their end")


def already_ended(spec: SweepSpec, folder: Path, meta: SweepMeta, tracking: TrackingConfig,
                  notifier: Notifier) -> SweepOutcome:
    """``resume`` of a sweep whose end ran: write the MLflow updates still pending (the
    documented recovery when MLflow was down as it ended), and nothing else; running the
    end again would log its summary twice and register a second model version."""
    recorder = SweepRecorder(folder, DecisionLog(folder / DECISIONS_FILE), list(spec.space),
                             meta.started_at, spec.failures.max_consecutive_failed,
                             SweepBudget(None), objectives=spec.objectives)
    tracker = MlflowTracker(tracking, spec.name, folder, recorder)
    tracker.start()  # replays what the store has not got yet
    left = close_tracking(tracker, folder, 120, notifier)
    notifier.note(f"sweep {spec.name} had already {meta.status.value}"
                  + ("" if left else "; its MLflow records are complete")
                  + (f". Give it more trials with `sweeper extend {spec.name} --trials N`,"
                     " or start" if meta.status != SweepStatus.FAILED else ". Start")
                  + " another with `sweeper run FILE --name NEW`")
    trials = read_table(folder / TRIALS_CSV)
    if meta.status == SweepStatus.FAILED:
        raise SweepFailed(f"sweep {spec.name} had failed (see {folder / TRIALS_CSV}); "
                          "resume does not run it again")
    return SweepOutcome(spec.name, folder, trials, _best(trials, spec, notifier),
                        spec.primary.metric, meta.test_score(), meta.status)


def _best(trials: pd.DataFrame, spec: SweepSpec, notifier: Notifier) -> BestTrial | None:
    """The sweep's best (``sweep_best``). A pick rule that cannot apply to these trials
    (smallest-within with no size recorded) is a warning here, not a lost sweep: the best
    on the first objective stands in."""
    try:
        return sweep_best(trials, spec)
    except UserInputError as exc:
        notifier.warn(f"{exc}; the best on {spec.primary.metric} stands in")
        return best_trial(trials, spec.primary.objective())


def _interrupted(trials: pd.DataFrame, spec: SweepSpec, folder: Path, meta: SweepMeta,
                 tracker: MlflowTracker, code: int, notifier: Notifier) -> None:
    open_trials = [] if trials.empty else list(
        trials.loc[~trials["status"].map(lambda s: Status(s).terminal), "trial_id"])
    tracker.emit({"kind": EventKind.INTERRUPTED, "open_trials": open_trials})
    close_tracking(tracker, folder, 30, notifier)
    meta.status = SweepStatus.INTERRUPTED
    meta.write(folder)
    raise Interrupted(
        f"sweep {spec.name} interrupted; its state is saved. Continue it with: "
        f"sweeper resume {spec.name}" + _runs_dir_hint(folder), code)


def _failure(trials: pd.DataFrame, spec: SweepSpec, folder: Path, best: BestTrial | None,
             budget: SweepBudget) -> str | None:
    """Why the sweep failed, or None (the recorder stops the budget on too many failures
    in a row; the table's count covers a sweep resumed after that)."""
    limit = spec.failures.max_consecutive_failed
    failed = trials["status"] == Status.FAILED if not trials.empty else None
    stopped = budget.stopped == Reason.SWEEP_STOPPED or _consecutive_failed(trials) >= limit
    if failed is not None and failed.any() and stopped:
        reasons = trials.loc[failed, "reason"].value_counts().to_dict()
        return (f"sweep {spec.name} stopped after {limit} failed trials in a row "
                f"(reasons: {reasons}); see {folder / TRIALS_CSV}")
    if budget.stopped == Reason.SWEEP_STOPPED and \
            _consecutive_failed(trials, Status.INFEASIBLE) >= limit:
        return (f"sweep {spec.name} stopped after {limit} trials in a row were over a "
                f"constraint once they ran (see the error column of {folder / TRIALS_CSV}); "
                "loosen `constraints` or narrow the space to smaller, faster models")
    if best is None and sweep_pick(spec) is not None and not scored_trials(trials).empty:
        metrics = ", ".join(o.metric for o in front_objectives(spec.objectives))
        return (f"sweep {spec.name} ended without a scored trial that has a value of every "
                f"objective ({metrics}); see {folder / TRIALS_CSV}")
    if best is None:
        return f"sweep {spec.name} ended without a scored trial; see {folder / TRIALS_CSV}"
    return None


def _score_on_test(model_path: Path, dataset: Dataset, best: BestTrial, spec: SweepSpec,
                   notifier: Notifier) -> TestScore | None:
    """The exported model's one score on the test split (a failure here is a warning: the
    sweep and its model are done)."""
    from sweeper.trial.holdout import score_best_model

    try:
        return score_best_model(model_path, dataset, best.row, spec.primary.metric)
    except Exception as exc:  # e.g. a custom layer the driver cannot load
        notifier.warn(f"the test split could not score {model_path}: "
                      f"{type(exc).__name__}: {exc}")
        return None


def _plots(spec: SweepSpec, folder: Path, trials: pd.DataFrame, best: BestTrial | None,
           notifier: Notifier) -> list[Path]:
    """The sweep's PNG plots (a plot that fails must not fail a finished sweep)."""
    from sweeper.report.plots import make_plots

    try:
        return make_plots(folder, open_study(folder, spec.name), trials,
                          read_table(folder / HISTORY_CSV), spec.primary.objective(),
                          spec.objectives, sweep_pick(spec), best)
    except Exception as exc:  # plotting is a report, not the sweep
        notifier.warn(f"plots failed: {type(exc).__name__}: {exc}")
        return []


def close_tracking(tracker: MlflowTracker, folder: Path, timeout: float,
                   notifier: Notifier) -> int:
    """Let the MLflow writer catch up; returns the updates left unwritten."""
    left = tracker.close(timeout)
    for warning in tracker.warnings():
        notifier.warn(warning)
    if left:
        notifier.warn(f"{left} MLflow update(s) not written yet ({tracker.last_error}); "
                      f"they are kept in {folder / EVENTS_FILE} and written by "
                      f"`sweeper resume {folder.name}` once the tracking store is back")
    return left


def _consecutive_failed(trials: pd.DataFrame, status_: Status = Status.FAILED) -> int:
    """Failed (or launched infeasible) trials at the end of the sweep, in the order they
    ended (trials the sweep ended itself when it stopped do not break the run)."""
    ended = trials.dropna(subset=["ended_s"]).sort_values("ended_s")
    ended = ended[~ended["reason"].isin([Reason.SWEEP_STOPPED, Reason.TIME_LIMIT])]
    count = 0
    if status_ == Status.INFEASIBLE:  # launched ones: never-launched rows have no reason code
        ended = ended[(ended["status"] != Status.INFEASIBLE)
                      | (ended["reason"] == Reason.CONSTRAINT)]
    for status in reversed(ended["status"].tolist()):
        if status != status_:
            break
        count += 1
    return count


def _runs_dir_hint(folder: Path) -> str:
    default = (Path(os.environ.get("SWEEPER_RUNS_DIR") or "runs")).resolve()
    return "" if folder.parent == default else f" --runs-dir {folder.parent}"
