"""Start sweeps: Ray Tune places and schedules trials, Optuna samples them.

Everything a sweep needs lives in ``runs/<name>/`` (or ``--storage`` for Tune's part), so a
crashed or interrupted driver loses nothing: ``sweeper resume NAME`` continues it
(``driver.restored``), and ``sweeper extend NAME`` continues an ended one.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sweeper.config.loaded import LoadedSpec
from sweeper.config.overrides import Overrides
from sweeper.config.schema import SweepSpec
from sweeper.control.extension import grid_trials
from sweeper.driver import wiring
from sweeper.driver.cluster import check_resources, connect, nodes
from sweeper.driver.finish import SweepOutcome, finish
from sweeper.driver.heartbeat import DriverHeartbeat, refuse_if_driven
from sweeper.driver.signals import SignalCatcher, quiet_tune
from sweeper.driver.steering import Steering
from sweeper.driver.warm import read_warm_start
from sweeper.errors import UserInputError
from sweeper.models.kinds import resolve_kind
from sweeper.notify import LogNotifier, Notifier
from sweeper.observe.tracking.config import check_reachable
from sweeper.observe.tracking.events import EventKind
from sweeper.observe.tracking.tracker import (
    APPLIED_FILE,
    EVENTS_FILE,
    SKIPPED_FILE,
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
    sweep_folder,
)
from sweeper.store.meta import SweepMeta
from sweeper.store.specs import write_discovery

__all__ = ["SweepOutcome", "resumable", "run_sweep", "sweep_start_event",
           "text_sha"]


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
        refuse_if_driven(folder, spec.name, "start it again")
        before = SweepMeta.read(folder)
        if before.status != SweepStatus.RUNNING or resumable(before):
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
        with DriverHeartbeat(folder, spec.name) as heartbeat:
            (folder / SWEEP_JSON).unlink(missing_ok=True)
            (folder / SWEEP_YAML).write_text(source_text)
            write_discovery(folder, loaded.discovered)  # a hypermodel's space, as discovered
            started_at = time.time()
            concurrency = wiring.tune_concurrency(spec, notifier)
            parallel = (concurrency or wiring.slots(spec)) > 1
            check = wiring.config_check(kind, dataset, spec)
            parts = wiring.components(spec, folder, started_at, check, parallel, quiet, tracking,
                                      concurrency=concurrency, start=start,
                                      warm=warm.trials if warm else None)
            steering = Steering(folder, parts.budget, parts.searcher, parts.tracker,
                                spec.primary.objective(), spec.budget.target,
                                grid_trials(spec))
            trainable = wiring.trainable(loaded, spec, kind, dataset)  # data to the object store
            meta = SweepMeta(
                name=spec.name, source_file=str(Path(loaded.doc.file).resolve()),
                base_dir=str(loaded.base_dir), spec_sha256=text_sha(source_text),
                overrides={k: v for k, v in asdict(overrides).items() if v is not None},
                experiment_path=_join(storage_path, experiment), started_at=started_at,
                address=address, register_model=register_model,
                data_fingerprint=dataset.fingerprint(), warm_start=warm_start, steerable=True)
            notifier.note(f"sweep {spec.name}: {planned_trials(spec)} trials, at most "
                          f"{spec.budget.max_epochs} epochs each, {spec.search.algorithm} + "
                          f"{spec.scheduler.kind}; outputs in {folder}")
            # no time_budget_s or stopper: the budget ends trials through Tune's normal path
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(  # the search applies the concurrency
                    search_alg=parts.search, scheduler=parts.scheduler, num_samples=-1,
                    reuse_actors=reuse_actors),
                run_config=tune.RunConfig(
                    name=experiment, storage_path=storage_path,
                    callbacks=[*parts.callbacks, steering],
                    failure_config=tune.FailureConfig(max_failures=spec.failures.max_failures),
                    checkpoint_config=tune.CheckpointConfig(
                        num_to_keep=1, checkpoint_score_attribute=OBJECTIVE_KEY,
                        checkpoint_score_order=spec.primary.direction),
                    verbose=0))
            # Tune's state (tuner.pkl) exists now: only from here on is the name resumable
            meta.write(folder)
            steering.attach(meta, notifier, heartbeat)
            parts.tracker.emit(sweep_start_event(spec, source_text))
            return finish(tuner, spec, folder, meta, signals, parts.tracker, parts.budget,
                          dataset, notifier, steering, heartbeat)


def _clear_unstarted(folder: Path) -> None:
    """What a start killed before Tune saved its state left: nothing ran to its end, and an
    Optuna trial asked then would stay RUNNING in the study the new start reopens."""
    for name in (SWEEP_JSON, STUDY_FILE, DECISIONS_FILE, TRIALS_CSV, HISTORY_CSV, EVENTS_FILE,
                 APPLIED_FILE, SKIPPED_FILE, DISCOVERED_SPACE):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / "tune", ignore_errors=True)  # the default storage's experiment


def resumable(meta: SweepMeta) -> bool:
    """Whether Tune's state for the sweep exists (a start killed before it did is not)."""
    from ray import tune
    from ray.tune.execution.experiment_state import _find_newest_experiment_checkpoint

    try:  # tuner.pkl, and the experiment state of Tune's first step (which asked Optuna)
        return bool(tune.Tuner.can_restore(meta.experiment_path)) and (
            _find_newest_experiment_checkpoint(meta.experiment_path) is not None)
    except Exception:  # an unreachable storage URI: let resume say what fails
        return True


def sweep_start_event(spec: SweepSpec, text: str,
                      planned: int | None = None) -> dict[str, Any]:
    """``planned``: the trial budget, where ``extend`` changed the file's."""
    return {"kind": EventKind.SWEEP_START, "spec_text": text, "spec_hash": text_sha(text),
            "planned": planned if planned is not None else planned_trials(spec)}


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _join(storage_path: str, name: str) -> str:
    return f"{storage_path.rstrip('/')}/{name}" if "://" in storage_path else str(
        Path(storage_path) / name)
