"""A sweep's parts put together: data, the trainable, the searcher, the scheduler, the
callbacks, and how many trials Tune may run at once."""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeper.config.loaded import LoadedSpec
from sweeper.config.schema import SweepSpec
from sweeper.data.dataset import Dataset, WorkerLoadedData, load_dataset
from sweeper.errors import UserInputError
from sweeper.models.inputs import InputInfo
from sweeper.models.kinds import ConfigCheck, ModelKind
from sweeper.models.limits import Limits
from sweeper.notify import Notifier
from sweeper.observe.lost_trials import LostTrials
from sweeper.observe.progress import ProgressPrinter, TuneTrialLinesOff
from sweeper.observe.recorder import SweepRecorder
from sweeper.observe.tracking.config import TrackingConfig
from sweeper.observe.tracking.config import resolve as resolve_tracking
from sweeper.observe.tracking.tracker import MlflowTracker
from sweeper.pruning.budget import SweepBudget
from sweeper.pruning.decisions import DecisionLog
from sweeper.pruning.pruners import make_pruner
from sweeper.pruning.schedulers import RecordingScheduler, make_scheduler
from sweeper.search.samplers import make_sampler
from sweeper.search.searcher import OptunaSearcher
from sweeper.search.space import planned_trials
from sweeper.search.tune_search import SweepSearch
from sweeper.store.layout import DECISIONS_FILE, STUDY_FILE
from sweeper.trial.checkpoint import CheckpointPolicy
from sweeper.trial.loop import LoopSettings
from sweeper.trial.trainable import TrialPayload, TrialSettings, run_trial

# Schedulers that pause a trial and resume it later from its last checkpoint.
PAUSING_SCHEDULERS = ("hyperband",)

__all__ = [
    "Components",
    "components",
    "load_data",
    "storage",
    "tracking_config",
    "trainable",
    "tune_concurrency",
]


@dataclass
class Components:
    search: SweepSearch
    searcher: OptunaSearcher
    scheduler: RecordingScheduler
    recorder: SweepRecorder
    tracker: MlflowTracker
    progress: ProgressPrinter
    budget: SweepBudget

    @property
    def callbacks(self) -> list[Any]:
        recording = [self.recorder, self.tracker, self.progress]
        return [*recording, LostTrials(self.recorder, self.scheduler.tell_lost, recording),
                TuneTrialLinesOff()]


def tracking_config(spec: SweepSpec, runs_dir: Path) -> TrackingConfig:
    return resolve_tracking(spec.tracking.uri, spec.tracking.experiment, spec.name, runs_dir)


def load_data(loaded: LoadedSpec, notifier: Notifier) -> Dataset:
    dataset = load_dataset(loaded)
    for warning in dataset.warnings:
        notifier.warn(warning)
    notifier.note(dataset.split_note)
    return dataset


def config_check(kind: ModelKind, dataset: Dataset, spec: SweepSpec) -> ConfigCheck:
    return ConfigCheck(kind, InputInfo(dataset.image_size, dataset.channels,
                                       dataset.num_classes), Limits.of(spec.constraints))


def tune_concurrency(spec: SweepSpec, notifier: Notifier) -> int | None:
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
        notifier.note("note: with the hyperband scheduler, trials run as resources allow; "
                      "resources.concurrency only applies to the other schedulers")
    return None


def slots(spec: SweepSpec) -> int:
    """Trials the cluster can hold at once."""
    from sweeper.driver.cluster import nodes

    cpt, gpt = spec.resources.cpus_per_trial, spec.resources.gpus_per_trial
    total = 0
    for node in nodes():
        fit = math.floor(node.cpus / cpt + 1e-9)
        if gpt > 0:
            fit = min(fit, math.floor(node.gpus / gpt + 1e-9))
        total += max(fit, 0)
    return max(total, 1)


def storage(spec: SweepSpec, folder: Path) -> tuple[str, str]:
    """(storage_path, experiment name) for Tune; a multi-node cluster needs shared storage."""
    from sweeper.driver.cluster import is_multi_node

    if spec.storage:
        _check_local_storage(spec.storage)
        return spec.storage, spec.name
    if is_multi_node():
        raise UserInputError(
            "this Ray cluster has several nodes, and trials checkpoint to the storage path: "
            f"the default {folder / 'tune'} is on this machine only. Pass --storage (or "
            "`storage:` in the file) with a folder every node mounts, or an s3:// / gs:// URI")
    return str(folder), "tune"


def _check_local_storage(storage: str) -> None:
    """A local storage path must be a folder sweeper can write (URIs are checked by use)."""
    if "://" in storage:
        return
    path = Path(storage).expanduser()
    if path.exists() and not path.is_dir():
        raise UserInputError(f"storage: {storage} is a file, not a folder; give a folder "
                             "(every node must mount it on a cluster) or an s3:// / gs:// URI")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UserInputError(f"storage: cannot write to {storage} ({exc.strerror or exc}); "
                             "give a folder this user can write") from None


def _check_optuna_settings(spec: SweepSpec, parallel: bool) -> None:
    """Build Optuna's sampler and pruner now, not at the first trial: a setting they refuse
    then stops the start before anything is written."""
    try:
        make_sampler(spec, parallel, spec.search.seed)
        make_pruner(spec)
    except ValueError as exc:
        raise UserInputError(f"Optuna refuses the search or scheduler settings: {exc}; "
                             "see `sweeper validate FILE`") from None


def trainable(loaded: LoadedSpec, spec: SweepSpec, kind: ModelKind, dataset: Dataset) -> Any:
    """run_trial with its payload in Ray's object store and its resources."""
    from ray import tune

    settings = TrialSettings(
        kind=kind, loop=LoopSettings.of(spec), cpus_per_trial=spec.resources.cpus_per_trial,
        gpus_per_trial=spec.resources.gpus_per_trial, horizontal_flip=spec.data.flip,
        checkpoints=CheckpointPolicy(spec.failures.checkpoint_interval,
                                     every_epoch=spec.scheduler.kind in PAUSING_SCHEDULERS))
    shipped: Dataset | WorkerLoadedData
    if spec.data.load_on == "workers":
        shipped = WorkerLoadedData(loaded, dataset.fingerprint())
    else:
        shipped = dataset.for_trials()  # the test split stays on the driver
    with_payload = tune.with_parameters(run_trial, payload=TrialPayload(settings, shipped))
    return tune.with_resources(with_payload, {"cpu": spec.resources.cpus_per_trial,
                                              "gpu": spec.resources.gpus_per_trial})


def components(spec: SweepSpec, folder: Path, started_at: float, check: ConfigCheck,
               parallel: bool, quiet: bool, tracking: TrackingConfig,
               concurrency: int | None = None, start: list[dict[str, Any]] | None = None,
               warm: list[Any] | None = None) -> Components:
    """``concurrency``: trials at once (None: as resources allow); ``start`` and ``warm`` (a
    new sweep only): the points enqueued first and an earlier sweep's trials for the new
    study."""
    _check_optuna_settings(spec, parallel)
    decisions = DecisionLog(folder / DECISIONS_FILE)
    budget = SweepBudget(spec.budget.time_limit, planned_trials(spec))
    recorder = SweepRecorder(folder, decisions, list(spec.space), started_at,
                             spec.failures.max_consecutive_failed, budget,
                             objectives=spec.objectives)
    searcher = OptunaSearcher(spec, folder / STUDY_FILE, planned_trials(spec), parallel,
                              decisions, check, recorder.record_infeasible, budget,
                              start=start, warm=warm)
    scheduler = make_scheduler(spec, decisions, searcher, budget)
    scheduler.started = recorder.has_row
    progress = ProgressPrinter(recorder, planned_trials(spec), spec.primary.objective(),
                               quiet=quiet, budget=budget)
    tracker = MlflowTracker(tracking, spec.name, folder, recorder, check.logged)
    return Components(SweepSearch(searcher, concurrency), searcher, scheduler, recorder,
                      tracker, progress, budget)
