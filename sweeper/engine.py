"""Run and resume sweeps: Ray Tune places and schedules trials, Optuna samples them.

Everything a sweep needs lives in ``runs/<name>/`` (or ``--storage`` for Tune's part), so a
crashed or interrupted driver loses nothing: ``sweeper resume NAME`` continues it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd

from sweeper import spec as spec_module
from sweeper.builders import builder_dirs, resolve_builder
from sweeper.errors import Interrupted, SweepFailed, UserInputError
from sweeper.holdout import TestScore
from sweeper.progress import ProgressPrinter
from sweeper.space import planned_trials
from sweeper.spec import LoadedSpec, SweepSpec
from sweeper.tracking import MlflowTracker, TrackingConfig, check_reachable
from sweeper.tracking import resolve as resolve_tracking

SWEEP_JSON = "sweep.json"
SWEEP_YAML = "sweep.yaml"
STUDY_FILE = "optuna.journal"
DECISIONS_FILE = "decisions.jsonl"


@dataclass
class Overrides:
    """Command-line values that replace the file's (None = keep the file's)."""

    name: str | None = None
    trials: int | None = None
    max_epochs: int | None = None
    time_limit: float | None = None
    concurrency: int | None = None
    gpus_per_trial: float | None = None
    cpus_per_trial: float | None = None
    seed: int | None = None
    storage: str | None = None
    tracking_uri: str | None = None

    def apply(self, spec: SweepSpec) -> SweepSpec:
        def section(model: Any, **values: Any) -> Any:
            kept = {k: v for k, v in values.items() if v is not None}
            return model.model_validate({**model.model_dump(by_alias=True), **kept})

        return spec.model_copy(update={
            "name": self.name or spec.name,
            "budget": section(spec.budget, trials=self.trials, max_epochs=self.max_epochs,
                              time_limit=self.time_limit),
            "resources": section(spec.resources, concurrency=self.concurrency,
                                 gpus_per_trial=self.gpus_per_trial,
                                 cpus_per_trial=self.cpus_per_trial),
            "search": section(spec.search, seed=self.seed),
            "storage": self.storage or spec.storage,
            "tracking": section(spec.tracking, uri=self.tracking_uri),
        })


@dataclass
class SweepMeta:
    """``runs/<name>/sweep.json``: what resume needs to continue exactly this sweep."""

    name: str
    source_file: str
    base_dir: str
    spec_sha256: str
    overrides: dict[str, Any]
    experiment_path: str
    started_at: float
    status: str = "running"
    address: str | None = None
    register_model: str | None = None
    data_fingerprint: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    test: dict[str, Any] | None = None  # holdout.TestScore of the exported best model

    def test_score(self) -> TestScore | None:
        return TestScore.from_dict(self.test)

    @classmethod
    def read(cls, folder: Path) -> SweepMeta:
        return cls(**json.loads((folder / SWEEP_JSON).read_text()))

    def write(self, folder: Path) -> None:
        tmp = folder / (SWEEP_JSON + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(folder / SWEEP_JSON)


@dataclass
class SweepOutcome:
    name: str
    folder: Path
    trials: pd.DataFrame
    best: dict[str, Any] | None
    metric: str
    test: TestScore | None = None


class BlueprintCheck:
    """Picklable feasibility test of the built-in CNN at the data's input shape."""

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int) -> None:
        self.input_shape = input_shape
        self.num_classes = num_classes

    def __call__(self, params: dict[str, Any]) -> str | None:
        from sweeper.architecture import plan

        return plan(params, self.input_shape, self.num_classes).infeasible

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        """Derived parameters logged with a trial: its FLOPs per image."""
        from sweeper.architecture import plan

        return {"flops": plan(params, self.input_shape, self.num_classes).flops}


def sweep_folder(runs_dir: Path, name: str) -> Path:
    folder = (runs_dir / name).resolve()
    if runs_dir.resolve() not in folder.parents:
        raise UserInputError(f"the sweep name {name!r} would write outside {runs_dir}")
    return folder


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class SignalCatcher:
    """SIGINT and SIGTERM both end the sweep through Tune's own graceful interrupt (SIGUSR1,
    which Tune handles like Ctrl-C), so state is saved; the exit code tells which arrived."""

    def __init__(self) -> None:
        self.code: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalCatcher:
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.code is None
        self.code = 130 if signum == signal.SIGINT else 143
        tune_listens = signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, None)
        if first and tune_listens:
            os.kill(os.getpid(), signal.SIGUSR1)
        else:
            raise KeyboardInterrupt


class _SyncRaceFilter(logging.Filter):
    """Drops Tune's report of one known race, which is harmless.

    Tune copies its state folder to storage in the background while it writes the next
    state there through temporary files; when the copy meets a temporary file that has just
    been renamed it logs a traceback. The next sync (and the final one, which Tune waits
    for) copies the folder again, so nothing is lost. Any other sync failure still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, FileNotFoundError) and "tmp-" in str(error))


def _quiet_tune() -> None:
    """sweeper prints its own progress; Tune's boxes and tables would only repeat it."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")  # ProgressPrinter says it
    state_logger = logging.getLogger("ray.tune.execution.experiment_state")
    if not any(isinstance(f, _SyncRaceFilter) for f in state_logger.filters):
        state_logger.addFilter(_SyncRaceFilter())


def _tune_concurrency(spec: SweepSpec) -> int | None:
    """Tune's max_concurrent_trials, and the pending-trial allowance HyperBand needs.

    Ray's HyperBand pauses trials only when a bracket holds more trials than can run, but
    Tune creates a searcher's trials one slot at a time, and a ConcurrencyLimiter counts
    paused trials as running: with either, every bracket would be the no-pruning one. So
    for hyperband Tune may create a whole bracket ahead, and resources bound what runs.
    """
    if spec.scheduler.kind != "hyperband":
        return spec.resources.concurrency
    from ray.tune.schedulers import HyperBandScheduler

    probe = HyperBandScheduler(max_t=spec.budget.max_epochs,
                               reduction_factor=spec.scheduler.reduction_factor)
    largest = max(probe._get_n0(s) for s in range(probe._s_max_1))
    os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", str(max(largest, 2)))
    if spec.resources.concurrency:
        print("note: with the hyperband scheduler, trials run as resources allow; "
              "resources.concurrency only applies to the other schedulers")
    return None


def _trainable(loaded: LoadedSpec, spec: SweepSpec, dataset: Any) -> Any:
    from ray import tune

    from sweeper.data import WorkerLoadedData
    from sweeper.trial import TrialPayload, TrialSettings, run_trial

    horizontal_flip = spec.data.horizontal_flip
    if horizontal_flip is None:
        horizontal_flip = spec.data.source not in ("digits", "mnist5k")
    settings = TrialSettings(
        model_kind=spec.model.kind, metric=spec.objective.metric,
        mode=spec.objective.direction, max_epochs=spec.budget.max_epochs,
        patience=spec.early_stopping.patience, min_delta=spec.early_stopping.min_delta,
        cpus_per_trial=spec.resources.cpus_per_trial,
        gpus_per_trial=spec.resources.gpus_per_trial, horizontal_flip=horizontal_flip,
        builder_dirs=builder_dirs(loaded))
    if spec.data.load_on == "workers":
        dataset = WorkerLoadedData(loaded, dataset.fingerprint())
    else:
        dataset = dataset.for_trials()  # the test split stays on the driver
    trainable = tune.with_parameters(run_trial, payload=TrialPayload(settings, dataset))
    return tune.with_resources(trainable, {"cpu": spec.resources.cpus_per_trial,
                                           "gpu": spec.resources.gpus_per_trial})


def _load_data(loaded: LoadedSpec, spec: SweepSpec) -> Any:
    from sweeper.data import load_dataset

    dataset = load_dataset(loaded)
    for warning in dataset.warnings:
        print(f"warning: {warning}")
    print(dataset.split_note)
    if spec.model.builtin:
        check = BlueprintCheck((*dataset.image_size, dataset.channels), dataset.num_classes)
        return dataset, check
    return dataset, None


def _slots(spec: SweepSpec) -> int:
    from sweeper.cluster import nodes

    cpt, gpt = spec.resources.cpus_per_trial, spec.resources.gpus_per_trial
    total = 0
    for node in nodes():
        fit = math.floor(node.cpus / cpt + 1e-9)
        if gpt > 0:
            fit = min(fit, math.floor(node.gpus / gpt + 1e-9))
        total += max(fit, 0)
    return max(total, 1)


def _storage(spec: SweepSpec, folder: Path) -> tuple[str, str]:
    """(storage_path, experiment name) for Tune; a multi-node cluster needs shared storage."""
    from sweeper.cluster import is_multi_node

    if spec.storage:
        return spec.storage, spec.name
    if is_multi_node():
        raise UserInputError(
            "this Ray cluster has several nodes, and trials checkpoint to the storage path: "
            f"the default {folder / 'tune'} is on this machine only. Pass --storage (or "
            "`storage:` in the file) with a folder every node mounts, or an s3:// / gs:// URI")
    return str(folder), "tune"


def _components(spec: SweepSpec, folder: Path, started_at: float, check: Any,
                parallel: bool, quiet: bool,
                tracking: TrackingConfig) -> tuple[Any, Any, Any, Any]:
    from sweeper.progress import ProgressPrinter
    from sweeper.recorder import FailureStopper, SweepRecorder
    from sweeper.schedulers import DecisionLog, make_scheduler
    from sweeper.searcher import OptunaSearcher
    from sweeper.tracking import MlflowTracker

    decisions = DecisionLog(folder / DECISIONS_FILE)
    recorder = SweepRecorder(folder, decisions, list(spec.space), started_at,
                             spec.failures.max_consecutive_failed)
    searcher = OptunaSearcher(spec, folder / STUDY_FILE, planned_trials(spec), parallel,
                              decisions, check, recorder.record_infeasible)
    scheduler = make_scheduler(spec, decisions, searcher)
    progress = ProgressPrinter(recorder, planned_trials(spec), spec.objective.metric,
                               spec.objective.direction, quiet=quiet)
    tracker = MlflowTracker(tracking, spec.name, folder, recorder,
                            check.describe if check is not None else None)
    return searcher, scheduler, [recorder, tracker, progress], FailureStopper(recorder)


def run_sweep(loaded: LoadedSpec, overrides: Overrides, runs_dir: Path, address: str | None,
              quiet: bool = False, reuse_actors: bool = True,
              local_cpus: int | None = None, register_model: str | None = None) -> SweepOutcome:
    """Start a new sweep named by the file (or --name) in ``runs_dir``.

    ``reuse_actors`` keeps TensorFlow loaded in each worker across trials (benchmarks turn
    it off for comparison); ``local_cpus`` sizes a local Ray (default: every core).
    """
    from ray import tune

    from sweeper.cluster import check_resources, connect, nodes

    _quiet_tune()
    spec = overrides.apply(loaded.spec)
    resolve_builder(loaded)
    folder = sweep_folder(runs_dir, spec.name)
    if (folder / SWEEP_JSON).exists():
        raise UserInputError(
            f"a sweep named {spec.name!r} already exists in {runs_dir}; continue it with "
            f"`sweeper resume {spec.name}`, or start another with --name")
    source_text = Path(loaded.doc.file).read_text()
    tracking = tracking_config(spec, runs_dir)
    check_reachable(tracking)
    dataset, check = _load_data(loaded, spec)
    with connect(address, local_cpus=local_cpus), SignalCatcher() as signals:
        check_resources(spec.resources.cpus_per_trial, spec.resources.gpus_per_trial, nodes())
        storage_path, experiment = _storage(spec, folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / SWEEP_YAML).write_text(source_text)
        started_at = time.time()
        concurrency = _tune_concurrency(spec)
        parallel = (concurrency or _slots(spec)) > 1
        searcher, scheduler, callbacks, stopper = _components(
            spec, folder, started_at, check, parallel, quiet, tracking)
        meta = SweepMeta(
            name=spec.name, source_file=str(Path(loaded.doc.file).resolve()),
            base_dir=str(loaded.base_dir), spec_sha256=_sha(source_text),
            overrides={k: v for k, v in asdict(overrides).items() if v is not None},
            experiment_path=_join(storage_path, experiment), started_at=started_at,
            address=address, register_model=register_model,
            data_fingerprint=dataset.fingerprint())
        meta.write(folder)
        print(f"sweep {spec.name}: {planned_trials(spec)} trials, at most "
              f"{spec.budget.max_epochs} epochs each, {spec.search.algorithm} + "
              f"{spec.scheduler.kind}; outputs in {folder}")
        tuner = tune.Tuner(
            _trainable(loaded, spec, dataset),
            tune_config=tune.TuneConfig(
                search_alg=searcher, scheduler=scheduler, num_samples=-1,
                max_concurrent_trials=concurrency, reuse_actors=reuse_actors,
                time_budget_s=spec.budget.time_limit),
            run_config=tune.RunConfig(
                name=experiment, storage_path=storage_path, callbacks=callbacks, stop=stopper,
                failure_config=tune.FailureConfig(max_failures=spec.failures.max_failures),
                checkpoint_config=tune.CheckpointConfig(
                    num_to_keep=1, checkpoint_score_attribute="objective",
                    checkpoint_score_order=spec.objective.direction),
                verbose=0))
        _tracker(callbacks).emit(_sweep_start(spec, source_text))
        return _finish(tuner, spec, folder, meta, signals, _tracker(callbacks), dataset)


def tracking_config(spec: SweepSpec, runs_dir: Path) -> TrackingConfig:
    return resolve_tracking(spec.tracking.uri, spec.tracking.experiment, spec.name, runs_dir)


def _sweep_start(spec: SweepSpec, text: str) -> dict[str, Any]:
    return {"kind": "sweep_start", "spec_text": text, "spec_hash": _sha(text),
            "planned": planned_trials(spec)}


def _tracker(callbacks: list[Any]) -> MlflowTracker:
    return next(c for c in callbacks if isinstance(c, MlflowTracker))


def _join(storage_path: str, name: str) -> str:
    return f"{storage_path.rstrip('/')}/{name}" if "://" in storage_path else str(
        Path(storage_path) / name)


def resume_sweep(name: str, runs_dir: Path, address: str | None,
                 quiet: bool = False) -> SweepOutcome:
    """Continue an interrupted or crashed sweep where Tune's saved state left it."""
    from ray import tune

    from sweeper.cluster import connect

    _quiet_tune()
    folder = sweep_folder(runs_dir, name)
    if not (folder / SWEEP_JSON).exists():
        known = sorted(p.parent.name for p in runs_dir.glob(f"*/{SWEEP_JSON}"))
        raise UserInputError(f"no sweep named {name!r} in {runs_dir}"
                             + (f"; sweeps there: {', '.join(known)}" if known else ""))
    meta = SweepMeta.read(folder)
    stored = (folder / SWEEP_YAML).read_text()
    source = Path(meta.source_file)
    if source.exists() and _sha(source.read_text()) != meta.spec_sha256:
        raise UserInputError(
            f"{source} changed since sweep {name!r} started; resume runs the space it started "
            f"with (kept in {folder / SWEEP_YAML}). Restore the file, or start a new sweep "
            "with `sweeper run FILE --name NEW`")
    loaded = spec_module.loads(stored, file=str(source), base_dir=Path(meta.base_dir))
    spec = Overrides(**meta.overrides).apply(loaded.spec)
    check_reachable(tracking_config(spec, runs_dir))
    dataset, _ = _load_data(loaded, spec)
    if meta.data_fingerprint and dataset.fingerprint() != meta.data_fingerprint:
        raise UserInputError(
            f"the data of sweep {name!r} changed since it started (fingerprint "
            f"{dataset.fingerprint()}, at the start {meta.data_fingerprint}): its trials "
            "would train and be scored on other images. Restore the data, or start a new "
            "sweep with `sweeper run FILE --name NEW`")
    _tune_concurrency(spec)
    with connect(address or meta.address), SignalCatcher() as signals:
        tuner = tune.Tuner.restore(
            meta.experiment_path, trainable=_trainable(loaded, spec, dataset),
            resume_unfinished=True, resume_errored=True, restart_errored=False)
        callbacks = _restored_callbacks(tuner)
        for callback in callbacks:
            if isinstance(callback, ProgressPrinter):
                callback.quiet = quiet  # honour this run's --quiet
        tracker = _tracker(callbacks)
        tracker.reconcile_on_setup = True
        meta.status = "running"
        meta.history.append({"resumed_at": time.time()})
        meta.write(folder)
        print(f"resuming sweep {name} from {meta.experiment_path}")
        tracker.emit(_sweep_start(spec, stored))
        return _finish(tuner, spec, folder, meta, signals, tracker, dataset)


def _restored_callbacks(tuner: Any) -> list[Any]:
    """The callbacks Tuner.restore unpickled from tuner.pkl (Tune offers no public getter;
    this is the one place sweeper reaches into the Tuner)."""
    local = getattr(tuner, "_local_tuner", None)
    return list(local.get_run_config().callbacks or []) if local is not None else []


def _finish(tuner: Any, spec: SweepSpec, folder: Path, meta: SweepMeta,
            signals: SignalCatcher, tracker: MlflowTracker, dataset: Any) -> SweepOutcome:
    from sweeper.progress import best_row
    from sweeper.recorder import HISTORY_CSV, TRIALS_CSV, read_table

    try:
        tuner.fit()
    except KeyboardInterrupt:
        signals.code = signals.code or 130
    trials = read_table(folder / TRIALS_CSV)
    if signals.code is not None:
        open_trials = [] if trials.empty else list(
            trials.loc[~trials["status"].isin(TERMINAL), "trial_id"])
        tracker.emit({"kind": "interrupted", "open_trials": open_trials})
        _close_tracking(tracker, folder, timeout=30)
        meta.status = "interrupted"
        meta.write(folder)
        raise Interrupted(
            f"sweep {spec.name} interrupted; its state is saved. Continue it with: "
            f"sweeper resume {spec.name}" + _runs_dir_hint(folder), signals.code)
    rows = trials.to_dict("records") if not trials.empty else []
    best = best_row(rows, spec.objective.direction)
    counts = trials["status"].value_counts().to_dict() if not trials.empty else {}
    failure: str | None = None
    if counts.get("failed") and _consecutive_tail(trials) >= spec.failures.max_consecutive_failed:
        reasons = trials.loc[trials["status"] == "failed", "reason"].value_counts().to_dict()
        failure = (f"sweep {spec.name} stopped after {spec.failures.max_consecutive_failed} "
                   f"failed trials in a row (reasons: {reasons}); see {folder / TRIALS_CSV}")
    elif best is None:
        failure = f"sweep {spec.name} ended without a scored trial; see {folder / TRIALS_CSV}"
    model_path = None
    test: TestScore | None = None
    if best is not None:
        model_path = export_best_model(tuner, str(best["trial_id"]), spec, folder / BEST_MODEL)
    if model_path is not None and best is not None:
        test = _score_on_test(model_path, dataset, best, spec)
    meta.test = test.to_dict() if test is not None else None
    # sweep.yaml went to MLflow at the start, redacted; never upload the raw file
    artifacts: list[tuple[str, str | None]] = [
        (str(folder / TRIALS_CSV), None), (str(folder / HISTORY_CSV), None)]
    if model_path is not None:
        artifacts.append((str(model_path), "model"))
    artifacts += [(str(p), "plots") for p in _plots(spec, folder, trials)]
    tracker.emit({"kind": "sweep_end", "status": "failed" if failure else "finished",
                  "counts": counts, "artifacts": artifacts,
                  "best_score": best["score"] if best else None,
                  "best_number": best["number"] if best else None,
                  "best_trial_id": best["trial_id"] if best else None,
                  "test": meta.test})
    if meta.register_model and model_path is not None:
        tracker.emit({"kind": "register", "name": meta.register_model,
                      "artifact_path": f"model/{BEST_MODEL}"})
    _close_tracking(tracker, folder, timeout=120)
    meta.status = "failed" if failure else "finished"
    meta.write(folder)
    if failure:
        raise SweepFailed(failure)
    return SweepOutcome(spec.name, folder, trials, best, spec.objective.metric, test)


def _score_on_test(model_path: Path, dataset: Any, best: dict[str, Any],
                   spec: SweepSpec) -> TestScore | None:
    """The exported model's one score on the test split (a failure here is a warning: the
    sweep and its model are done)."""
    from sweeper.holdout import score_best_model

    try:
        return score_best_model(model_path, dataset, best, spec.objective.metric)
    except Exception as exc:  # e.g. a custom layer the driver cannot load
        print(f"warning: the test split could not score {model_path}: "
              f"{type(exc).__name__}: {exc}")
        return None


def _plots(spec: SweepSpec, folder: Path, trials: pd.DataFrame) -> list[Path]:
    """The sweep's PNG plots (a plot that fails must not fail a finished sweep)."""
    import optuna

    from sweeper.plots import make_plots
    from sweeper.recorder import HISTORY_CSV, read_table

    try:
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(folder / STUDY_FILE)))
        study = optuna.load_study(study_name=spec.name, storage=storage)
        return make_plots(folder, study, trials, read_table(folder / HISTORY_CSV),
                          spec.objective.metric, spec.objective.direction)
    except Exception as exc:  # plotting is a report, not the sweep
        print(f"warning: plots failed: {type(exc).__name__}: {exc}")
        return []


TERMINAL = ["completed", "pruned", "stopped_early", "failed", "infeasible"]
BEST_MODEL = "best_model.keras"


def export_best_model(tuner: Any, trial_id: str, spec: SweepSpec, dest: Path) -> Path | None:
    """Copy the best checkpoint's model of a trial (read through the sweep's storage)."""
    import shutil

    from sweeper.trial import CHECKPOINT_MODEL

    for result in tuner.get_results():
        if result.metrics.get("trial_id") != trial_id:
            continue
        checkpoint = result.get_best_checkpoint("objective", spec.objective.direction) \
            if result.best_checkpoints else result.checkpoint
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as folder:
            shutil.copyfile(Path(folder) / CHECKPOINT_MODEL, dest)
        return dest
    return None


def _close_tracking(tracker: MlflowTracker, folder: Path, timeout: float) -> None:
    left = tracker.close(timeout)
    if left:
        print(f"warning: {left} MLflow update(s) not written yet ({tracker.last_error}); "
              f"they are kept in {folder / 'mlflow-events.jsonl'} and written by "
              f"`sweeper resume {folder.name}` once the tracking store is back")


def _consecutive_tail(trials: pd.DataFrame) -> int:
    ended = trials.dropna(subset=["ended_s"]).sort_values("ended_s")
    count = 0
    for status in reversed(ended["status"].tolist()):
        if status != "failed":
            break
        count += 1
    return count


def _runs_dir_hint(folder: Path) -> str:
    default = (Path(os.environ.get("SWEEPER_RUNS_DIR") or "runs")).resolve()
    return "" if folder.parent == default else f" --runs-dir {folder.parent}"


def load_spec_for(name: str, runs_dir: Path) -> LoadedSpec:
    """The spec a sweep ran with, its command-line overrides applied (`--name` names the
    Optuna study, `--tracking-uri` the MLflow store): for results, export and the API."""
    folder = sweep_folder(runs_dir, name)
    if not (folder / SWEEP_JSON).exists():
        raise UserInputError(f"no sweep named {name!r} in {runs_dir}")
    meta = SweepMeta.read(folder)
    loaded = spec_module.loads((folder / SWEEP_YAML).read_text(), file=meta.source_file,
                               base_dir=Path(meta.base_dir))
    loaded.spec = Overrides(**meta.overrides).apply(loaded.spec)
    return loaded
