"""Run and resume sweeps: Ray Tune places and schedules trials, Optuna samples them.

Everything a sweep needs lives in ``runs/<name>/`` (or ``--storage`` for Tune's part), so a
crashed or interrupted driver loses nothing: ``sweeper resume NAME`` continues it.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sweeper.config.load import loads
from sweeper.config.loaded import LoadedSpec
from sweeper.config.overrides import Overrides
from sweeper.config.schema import SweepSpec
from sweeper.driver import wiring
from sweeper.driver.cluster import check_resources, connect, nodes
from sweeper.driver.finish import SweepOutcome, already_ended, finish
from sweeper.driver.signals import SignalCatcher, quiet_tune
from sweeper.driver.tune_state import readable_tune_state
from sweeper.driver.warm import read_warm_start
from sweeper.errors import UserInputError
from sweeper.models.kinds import resolve_kind
from sweeper.notify import LogNotifier, Notifier
from sweeper.observe.progress import ProgressPrinter
from sweeper.observe.recorder import SweepRecorder
from sweeper.observe.tracking.config import check_reachable
from sweeper.observe.tracking.events import EventKind
from sweeper.observe.tracking.tracker import (
    APPLIED_FILE,
    EVENTS_FILE,
    SKIPPED_FILE,
    MlflowTracker,
)
from sweeper.result import OBJECTIVE_KEY
from sweeper.search.space import planned_trials
from sweeper.search.start import start_points
from sweeper.status import SweepStatus
from sweeper.store.layout import (
    DECISIONS_FILE,
    DISCOVERED_SPACE,
    HISTORY_CSV,
    STUDY_FILE,
    SWEEP_JSON,
    SWEEP_YAML,
    TRIALS_CSV,
    existing_sweep,
    sweep_folder,
)
from sweeper.store.meta import SweepMeta
from sweeper.store.specs import recorded_discovery, write_discovery

__all__ = ["SweepOutcome", "resume_sweep", "run_sweep"]


def run_sweep(loaded: LoadedSpec, overrides: Overrides, runs_dir: Path, address: str | None,
              quiet: bool = False, reuse_actors: bool = True, local_cpus: int | None = None,
              register_model: str | None = None,
              notifier: Notifier | None = None,
              warm_start: str | None = None) -> SweepOutcome:
    """Start a new sweep named by the file (or --name) in ``runs_dir``.

    ``reuse_actors`` keeps TensorFlow loaded in each worker across trials (benchmarks turn
    it off for comparison); ``local_cpus`` sizes a local Ray (default: every core);
    ``warm_start`` names an earlier sweep whose finished trials the new study starts from.
    """
    from ray import tune

    notifier = notifier or LogNotifier()
    quiet_tune()
    spec = overrides.apply(loaded.spec)
    kind = resolve_kind(loaded)
    folder = sweep_folder(runs_dir, spec.name)
    if (folder / SWEEP_JSON).exists():
        before = SweepMeta.read(folder)
        if before.status != SweepStatus.RUNNING or _resumable(before):
            raise UserInputError(
                f"a sweep named {spec.name!r} already exists in {runs_dir}; continue it with "
                f"`sweeper resume {spec.name}`, or start another with --name")
        _clear_unstarted(folder)  # a start killed before Tune's state: this run replaces it
    source_text = Path(loaded.doc.file).read_text()
    tracking = wiring.tracking_config(spec, runs_dir)
    check_reachable(tracking)
    dataset = wiring.load_data(loaded, notifier)
    start = start_points(spec, kind.defaults())
    warm = None
    if warm_start is not None:
        warm = read_warm_start(warm_start, runs_dir, spec, dataset.fingerprint(),
                               kind.defaults())
        notifier.note(warm.note())
    with connect(address, notifier, local_cpus=local_cpus), SignalCatcher() as signals:
        check_resources(spec.resources.cpus_per_trial, spec.resources.gpus_per_trial, nodes())
        storage_path, experiment = wiring.storage(spec, folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / SWEEP_JSON).unlink(missing_ok=True)
        (folder / SWEEP_YAML).write_text(source_text)
        write_discovery(folder, loaded.discovered)  # a hypermodel's space, as discovered
        started_at = time.time()
        concurrency = wiring.tune_concurrency(spec, notifier)
        parallel = (concurrency or wiring.slots(spec)) > 1
        check = wiring.config_check(kind, dataset, spec)
        parts = wiring.components(spec, folder, started_at, check, parallel, quiet, tracking,
                                  start=start,
                                  warm=warm.trials if warm else None)
        trainable = wiring.trainable(loaded, spec, kind, dataset)  # data to the object store
        meta = SweepMeta(
            name=spec.name, source_file=str(Path(loaded.doc.file).resolve()),
            base_dir=str(loaded.base_dir), spec_sha256=_sha(source_text),
            overrides={k: v for k, v in asdict(overrides).items() if v is not None},
            experiment_path=_join(storage_path, experiment), started_at=started_at,
            address=address, register_model=register_model,
            data_fingerprint=dataset.fingerprint(), warm_start=warm_start)
        notifier.note(f"sweep {spec.name}: {planned_trials(spec)} trials, at most "
                      f"{spec.budget.max_epochs} epochs each, {spec.search.algorithm} + "
                      f"{spec.scheduler.kind}; outputs in {folder}")
        # no time_budget_s or stopper: the budget ends trials through Tune's normal path
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=parts.searcher, scheduler=parts.scheduler, num_samples=-1,
                max_concurrent_trials=concurrency, reuse_actors=reuse_actors),
            run_config=tune.RunConfig(
                name=experiment, storage_path=storage_path, callbacks=parts.callbacks,
                failure_config=tune.FailureConfig(max_failures=spec.failures.max_failures),
                checkpoint_config=tune.CheckpointConfig(
                    num_to_keep=1, checkpoint_score_attribute=OBJECTIVE_KEY,
                    checkpoint_score_order=spec.primary.direction),
                verbose=0))
        # Tune's state (tuner.pkl) exists now: only from here on is the name resumable
        meta.write(folder)
        parts.tracker.emit(_sweep_start(spec, source_text))
        return finish(tuner, spec, folder, meta, signals, parts.tracker, parts.budget,
                      dataset, notifier)


def resume_sweep(name: str, runs_dir: Path, address: str | None, quiet: bool = False,
                 notifier: Notifier | None = None) -> SweepOutcome:
    """Continue an interrupted or crashed sweep where Tune's saved state left it."""
    from ray import tune

    notifier = notifier or LogNotifier()
    quiet_tune()
    folder = existing_sweep(runs_dir, name)
    meta = SweepMeta.read(folder)
    stored = (folder / SWEEP_YAML).read_text()
    if not _resumable(meta):
        file = meta.source_file if Path(meta.source_file).exists() else "FILE"
        raise UserInputError(
            f"sweep {name!r} stopped before Tune saved any state, so there is nothing to "
            f"resume: start it again with `sweeper run {file} --name {name}`")
    source = Path(meta.source_file)
    if source.exists() and _sha(source.read_text()) != meta.spec_sha256:
        raise UserInputError(
            f"{source} changed since sweep {name!r} started; resume runs the space it started "
            f"with (kept in {folder / SWEEP_YAML}). Restore the file, or start a new sweep "
            "with `sweeper run FILE --name NEW`")
    loaded = loads(stored, file=str(source), base_dir=Path(meta.base_dir),
                   discover=recorded_discovery(folder))
    spec = Overrides(**meta.overrides).apply(loaded.spec)
    kind = resolve_kind(loaded)
    check_reachable(wiring.tracking_config(spec, runs_dir))
    dataset = wiring.load_data(loaded, notifier)
    if meta.data_fingerprint and dataset.fingerprint() != meta.data_fingerprint:
        raise UserInputError(
            f"the data of sweep {name!r} changed since it started (fingerprint "
            f"{dataset.fingerprint()}, at the start {meta.data_fingerprint}): its trials "
            "would train and be scored on other images. Restore the data, or start a new "
            "sweep with `sweeper run FILE --name NEW`")
    if meta.status in (SweepStatus.FINISHED, SweepStatus.FAILED):
        # its end ran already: only MLflow updates that did not reach the store are left
        return already_ended(spec, folder, meta, wiring.tracking_config(spec, runs_dir),
                             notifier)
    wiring.tune_concurrency(spec, notifier)
    with connect(address or meta.address, notifier), SignalCatcher() as signals:
        with readable_tune_state(name, "resume it"):
            tuner = tune.Tuner.restore(
                meta.experiment_path, trainable=wiring.trainable(loaded, spec, kind, dataset),
                # errored trials were told FAIL and recorded failed: they stay so
                resume_unfinished=True, resume_errored=False, restart_errored=False)
        callbacks = _restored_callbacks(tuner)
        for callback in callbacks:
            if isinstance(callback, ProgressPrinter):
                callback.quiet = quiet  # honour this run's --quiet
        tracker = next(c for c in callbacks if isinstance(c, MlflowTracker))
        tracker.reconcile_on_setup = True
        meta.status = SweepStatus.RUNNING
        meta.history.append({"resumed_at": time.time()})
        meta.write(folder)
        notifier.note(f"resuming sweep {name} from {meta.experiment_path}")
        tracker.emit(_sweep_start(spec, stored))
        budget = next(c for c in callbacks if isinstance(c, SweepRecorder)).budget
        return finish(tuner, spec, folder, meta, signals, tracker, budget, dataset, notifier)


def _clear_unstarted(folder: Path) -> None:
    """What a start killed before Tune saved its state left: nothing ran to its end, and an
    Optuna trial asked then would stay RUNNING in the study the new start reopens."""
    for name in (SWEEP_JSON, STUDY_FILE, DECISIONS_FILE, TRIALS_CSV, HISTORY_CSV, EVENTS_FILE,
                 APPLIED_FILE, SKIPPED_FILE, DISCOVERED_SPACE):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / "tune", ignore_errors=True)  # the default storage's experiment


def _resumable(meta: SweepMeta) -> bool:
    """Whether Tune's state for the sweep exists (a start killed before it did is not)."""
    from ray import tune
    from ray.tune.execution.experiment_state import _find_newest_experiment_checkpoint

    try:  # tuner.pkl, and the experiment state of Tune's first step (which asked Optuna)
        return bool(tune.Tuner.can_restore(meta.experiment_path)) and (
            _find_newest_experiment_checkpoint(meta.experiment_path) is not None)
    except Exception:  # an unreachable storage URI: let resume say what fails
        return True


def _restored_callbacks(tuner: Any) -> list[Any]:
    """The callbacks Tuner.restore unpickled from tuner.pkl (Tune offers no public getter;
    this is the one place sweeper reaches into the Tuner)."""
    local = getattr(tuner, "_local_tuner", None)
    return list(local.get_run_config().callbacks or []) if local is not None else []


def _sweep_start(spec: SweepSpec, text: str) -> dict[str, Any]:
    return {"kind": EventKind.SWEEP_START, "spec_text": text, "spec_hash": _sha(text),
            "planned": planned_trials(spec)}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _join(storage_path: str, name: str) -> str:
    return f"{storage_path.rstrip('/')}/{name}" if "://" in storage_path else str(
        Path(storage_path) / name)
