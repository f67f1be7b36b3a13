"""Sweeps continued from Tune's saved state: ``sweeper resume`` (an interrupted or crashed
sweep) and ``sweeper extend`` of a sweep that ended (finished or stopped), which goes on as
the same sweep (the same study, tables and MLflow parent run) with a larger budget."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeper.config.load import loads
from sweeper.config.loaded import LoadedSpec
from sweeper.config.overrides import Overrides
from sweeper.config.schema import SweepSpec
from sweeper.control.extension import Extension, plan_extension
from sweeper.data.dataset import Dataset
from sweeper.driver import wiring
from sweeper.driver.cluster import connect
from sweeper.driver.engine import resumable, sweep_start_event, text_sha
from sweeper.driver.finish import SweepOutcome, already_ended, finish
from sweeper.driver.heartbeat import DriverHeartbeat, refuse_if_driven
from sweeper.driver.signals import SignalCatcher, quiet_tune
from sweeper.driver.steering import Steering
from sweeper.driver.tune_state import readable_tune_state
from sweeper.errors import UserInputError
from sweeper.models.kinds import ModelKind, resolve_kind
from sweeper.notify import LogNotifier, Notifier
from sweeper.observe.progress import ProgressPrinter
from sweeper.observe.recorder import SweepRecorder
from sweeper.observe.tracking.config import check_reachable
from sweeper.observe.tracking.tracker import MlflowTracker
from sweeper.search.space import planned_trials
from sweeper.status import SweepStatus
from sweeper.store.layout import SWEEP_JSON, SWEEP_YAML, existing_sweep
from sweeper.store.meta import SweepMeta
from sweeper.store.specs import load_spec_for, recorded_discovery

__all__ = ["extend_sweep", "resume_sweep"]


@dataclass
class _Restorable:
    """A sweep on disk, checked and ready for a driver to restore."""

    name: str
    folder: Path
    meta: SweepMeta
    loaded: LoadedSpec
    spec: SweepSpec
    kind: ModelKind
    stored: str  # sweep.yaml's text
    record: bytes  # sweep.json as read: another driver must not have changed it since


def resume_sweep(name: str, runs_dir: Path, address: str | None, quiet: bool = False,
                 notifier: Notifier | None = None) -> SweepOutcome:
    """Continue an interrupted or crashed sweep where Tune's saved state left it."""
    notifier = notifier or LogNotifier()
    sweep = _restorable(name, runs_dir, "resume it")
    dataset = _checked_data(sweep, notifier)
    meta = sweep.meta
    if meta.status in (SweepStatus.FINISHED, SweepStatus.STOPPED, SweepStatus.FAILED):
        # its end ran already: only MLflow updates that did not reach the store are left
        return already_ended(sweep.spec, sweep.folder, meta,
                             wiring.tracking_config(sweep.spec, runs_dir), notifier)
    meta.history.append({"resumed_at": time.time()})
    return _drive(sweep, dataset, address, quiet, notifier, ("resume it", "resuming"))


def extend_sweep(name: str, runs_dir: Path, trials: int | None, time_s: float | None,
                 address: str | None, quiet: bool = False,
                 notifier: Notifier | None = None) -> SweepOutcome:
    """Continue a sweep that is not running with more trials or more time, in this process
    (a running sweep's own driver takes an extension: ``control.steer``)."""
    notifier = notifier or LogNotifier()
    folder = existing_sweep(runs_dir, name)
    refuse_if_driven(folder, name, "extend it as a new driver")
    before = SweepMeta.read(folder)
    status = SweepStatus.CRASHED if before.status == SweepStatus.RUNNING else before.status
    # bad input first, before anything is restored or written
    plan = plan_extension(folder, before, load_spec_for(name, runs_dir).spec, status, trials,
                          time_s)
    sweep = _restorable(name, runs_dir, "extend it")
    meta = sweep.meta
    dataset = _checked_data(sweep, notifier)
    _record(meta, plan, trials, time_s)
    notifier.note(f"extending sweep {name}: {plan.describe()}")
    return _drive(sweep, dataset, address, quiet, notifier, ("extend it", "continuing"))


def _record(meta: SweepMeta, plan: Extension, trials: int | None,
            time_s: float | None) -> None:
    """The new budget, in sweep.json before the driver starts (it syncs from there)."""
    meta.trial_budget = plan.trials
    meta.pending_time_s = plan.more_time_s  # the driver adds it to the time it restores
    meta.stop_cause = None
    meta.history.append({"extended_at": time.time(), "trials": trials, "time_s": time_s,
                         "from_status": meta.status.value})


def _restorable(name: str, runs_dir: Path, doing: str) -> _Restorable:
    quiet_tune()
    folder = existing_sweep(runs_dir, name)
    refuse_if_driven(folder, name, doing)
    record = (folder / SWEEP_JSON).read_bytes()
    meta = SweepMeta.read(folder)
    stored = (folder / SWEEP_YAML).read_text()
    if not resumable(meta):
        file = meta.source_file if Path(meta.source_file).exists() else "FILE"
        raise UserInputError(
            f"sweep {name!r} stopped before Tune saved any state, so there is nothing to "
            f"continue: start it again with `sweeper run {file} --name {name}`")
    source = Path(meta.source_file)
    if source.exists() and text_sha(source.read_text()) != meta.spec_sha256:
        raise UserInputError(
            f"{source} changed since sweep {name!r} started; a sweep goes on with the space "
            f"it started with (kept in {folder / SWEEP_YAML}). Restore the file, or start a "
            "new sweep with `sweeper run FILE --name NEW`")
    loaded = loads(stored, file=str(source), base_dir=Path(meta.base_dir),
                   discover=recorded_discovery(folder))
    spec = Overrides(**meta.overrides).apply(loaded.spec)
    kind = resolve_kind(loaded)
    check_reachable(wiring.tracking_config(spec, runs_dir))
    return _Restorable(name, folder, meta, loaded, spec, kind, stored, record)


def _checked_data(sweep: _Restorable, notifier: Notifier) -> Dataset:
    dataset = wiring.load_data(sweep.loaded, notifier)
    meta = sweep.meta
    if meta.data_fingerprint and dataset.fingerprint() != meta.data_fingerprint:
        raise UserInputError(
            f"the data of sweep {sweep.name!r} changed since it started (fingerprint "
            f"{dataset.fingerprint()}, at the start {meta.data_fingerprint}): its trials "
            "would train and be scored on other images. Restore the data, or start a new "
            "sweep with `sweeper run FILE --name NEW`")
    return dataset


def _drive(sweep: _Restorable, dataset: Dataset, address: str | None, quiet: bool,
           notifier: Notifier, doing: tuple[str, str]) -> SweepOutcome:
    """Restore Tune's state and run the sweep to its end as its driver (``doing``: what
    this is, for an error and for the note)."""
    from ray import tune

    name, folder, meta, spec = sweep.name, sweep.folder, sweep.meta, sweep.spec
    wiring.tune_concurrency(spec, notifier)
    with connect(address or meta.address, notifier), SignalCatcher() as signals, \
            DriverHeartbeat(folder, name) as heartbeat:
        if (folder / SWEEP_JSON).read_bytes() != sweep.record:
            raise UserInputError(
                f"cannot {doing[0]}: sweep {name!r} changed while this command prepared "
                "(another command continued it meanwhile); see `sweeper status "
                f"{name}` and run the command again")
        with readable_tune_state(name, doing[0]):
            tuner = tune.Tuner.restore(
                meta.experiment_path,
                trainable=wiring.trainable(sweep.loaded, spec, sweep.kind, dataset),
                # errored trials were told FAIL and recorded failed: they stay so
                resume_unfinished=True, resume_errored=False, restart_errored=False)
        callbacks = _restored_callbacks(tuner)
        for callback in callbacks:
            if isinstance(callback, ProgressPrinter):
                callback.quiet = quiet  # honour this run's --quiet
        tracker = next(c for c in callbacks if isinstance(c, MlflowTracker))
        tracker.reconcile_on_setup = True
        steering = next((c for c in callbacks if isinstance(c, Steering)), None)
        meta.status = SweepStatus.RUNNING
        meta.write(folder)
        if steering is not None:  # a sweep an older sweeper started has none
            steering.attach(meta, notifier, heartbeat)
        notifier.note(f"{doing[1]} sweep {name} from {meta.experiment_path}")
        planned = meta.trial_budget if meta.trial_budget is not None else planned_trials(spec)
        tracker.emit(sweep_start_event(spec, sweep.stored, planned))
        budget = next(c for c in callbacks if isinstance(c, SweepRecorder)).budget
        return finish(tuner, spec, folder, meta, signals, tracker, budget, dataset, notifier,
                      steering, heartbeat)


def _restored_callbacks(tuner: Any) -> list[Any]:
    """The callbacks Tuner.restore unpickled from tuner.pkl (Tune offers no public getter;
    this is the one place sweeper reaches into the Tuner)."""
    local = getattr(tuner, "_local_tuner", None)
    return list(local.get_run_config().callbacks or []) if local is not None else []

