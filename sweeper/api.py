"""The Python API for notebooks: ``sweeper.run(...)``, ``sweeper.load(NAME)``,
``sweeper.compare([...])``, ``sweeper.stop(NAME)``, ``sweeper.extend(NAME, trials=3)``.
Reading a sweep, and steering a running one, import neither Ray nor TensorFlow."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sweeper.config.load import load as load_file
from sweeper.config.load import loads
from sweeper.config.loaded import LoadedSpec
from sweeper.config.overrides import Overrides
from sweeper.config.yamlio import dump
from sweeper.report.compare import compare as compare_sweeps
from sweeper.report.doctor import DoctorReport, diagnose_sweep
from sweeper.report.results import pareto_table
from sweeper.store.layout import existing_sweep
from sweeper.store.meta import SweepMeta
from sweeper.store.pareto import sweep_best, sweep_pick
from sweeper.store.specs import load_spec_for
from sweeper.store.study import open_study
from sweeper.store.tables import history_frame, trials_frame
from sweeper.store.test_score import TestScore

if TYPE_CHECKING:
    import optuna

    from sweeper.driver.finish import SweepOutcome
    from sweeper.notify import Notifier
    from sweeper.objective import Pick

__all__ = ["Sweep", "compare", "doctor", "extend", "list_sweeps", "load", "load_spec", "run",
           "stop"]


def _runs_dir(runs_dir: str | Path | None) -> Path:
    return Path(runs_dir or os.environ.get("SWEEPER_RUNS_DIR") or "runs")


def load_spec(path: str | Path) -> LoadedSpec:
    """A search-space file validated by the schema and by its model kind (a KerasTuner
    hypermodel's space discovered from its code, here, and merged with the file's)."""
    from sweeper.models.kinds import check_spec, discover_space

    return load_file(path, checks=(check_spec,), discover=discover_space)


class Sweep:
    """A sweep on disk: its tables, its study, its best trial."""

    def __init__(self, name: str, runs_dir: str | Path | None = None) -> None:
        self.runs_dir = _runs_dir(runs_dir)
        self.name = name
        self.folder = existing_sweep(self.runs_dir, name)
        self.meta = SweepMeta.read(self.folder)
        self.loaded = load_spec_for(name, self.runs_dir)

    def __repr__(self) -> str:
        return (f"Sweep({self.name!r}, status={self.meta.status.value!r}, "
                f"trials={len(self.trials)})")

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial (the columns of trials.csv)."""
        return trials_frame(self.name, self.runs_dir)

    @property
    def history(self) -> pd.DataFrame:
        """One row per trial and epoch."""
        return history_frame(self.name, self.runs_dir)

    @property
    def study(self) -> optuna.Study:
        return open_study(self.folder, self.loaded.spec.name)

    def best(self) -> dict[str, Any] | None:
        """The best trial's row, or None (never a failed or infeasible trial). In a
        multi-objective sweep: the Pareto front's trial that the spec's ``pick`` names
        (default: best on the first objective)."""
        best = sweep_best(self.trials, self.loaded.spec)
        return None if best is None else best.row

    def pareto(self) -> pd.DataFrame:
        """The Pareto front, best first on the first objective: trial_id, number, status, a
        column per objective named by its metric, the parameters (``param_*``). A
        single-objective sweep's front is over its objective and param_count."""
        return pareto_table(self.trials, self.loaded.spec.objectives)

    @property
    def test(self) -> TestScore | None:
        """The exported best model's score on the test split (None without one)."""
        return SweepMeta.read(self.folder).test_score()

    def export(self, path: str | Path, model: str | Path | None = None,
               trial: str | None = None, pick: Pick | str | None = None) -> Path:
        """Write the best (or the named) trial as a fixed search-space file (and its model).
        ``pick`` (``best:METRIC`` or ``smallest-within:DELTA``) chooses from the Pareto front
        in place of the spec's rule; not with ``trial``."""
        from sweeper.report.export import export

        output = Path(path)
        document = export(self.name, self.runs_dir, output, trial, pick)
        if model is not None:
            from sweeper.driver.best_model import copy_trial_model

            copy_trial_model(self.folder, self.meta, self.loaded.spec.primary.objective(),
                             document["provenance"]["trial_id"], Path(model))
        return output

    def doctor(self) -> DoctorReport:
        """The problems its trials had, what explains them, and what to change."""
        return diagnose_sweep(self.name, self.runs_dir)

    def plots(self) -> list[Path]:
        """Write the PNG plots to runs/NAME/plots/ and return them."""
        from sweeper.report.plots import make_plots

        spec, trials = self.loaded.spec, self.trials
        rule = sweep_pick(spec)
        return make_plots(self.folder, self.study, trials, self.history,
                          spec.primary.objective(), spec.objectives, rule,
                          sweep_best(trials, spec) if rule is not None else None)


def load(name: str, runs_dir: str | Path | None = None) -> Sweep:
    """Open a finished, interrupted or running sweep by name."""
    return Sweep(name, runs_dir)


def run(path_or_spec: str | Path | dict[str, Any], runs_dir: str | Path | None = None,
        address: str | None = None, quiet: bool = True, notifier: Notifier | None = None,
        warm_start: str | None = None, **overrides: Any) -> Sweep:
    """Run a sweep from a search-space file (or the same structure as a dict) and return it.

    ``overrides`` are the command line's: name, trials, max_epochs, time_limit, concurrency,
    gpus_per_trial, cpus_per_trial, seed, storage, tracking_uri. Notes go to ``notifier``
    (default: the ``sweeper`` logger). ``warm_start``: an earlier sweep's name, whose
    finished trials the new study starts from.
    """
    from sweeper.driver.engine import run_sweep
    from sweeper.models.kinds import check_spec, discover_space

    folder = _runs_dir(runs_dir)
    if not isinstance(path_or_spec, dict):
        outcome = run_sweep(load_spec(path_or_spec), Overrides(**overrides), folder, address,
                            quiet=quiet, notifier=notifier, warm_start=warm_start)
        return Sweep(outcome.name, folder)
    name = str(path_or_spec.get("name") or overrides.get("name") or "sweep")
    # the sweep reads its file's text once; relative paths (data.path, a builder) are the
    # current directory's, as a notebook's user means them, and the file goes afterwards
    with tempfile.TemporaryDirectory(prefix="sweeper-") as tmp:
        path = Path(tmp) / "sweep.yaml"  # the name is in the text (and checked there)
        path.write_text(dump({"name": name, **path_or_spec}))
        loaded = loads(path.read_text(), file=str(path), base_dir=Path.cwd().resolve(),
                       checks=(check_spec,), discover=discover_space)
        outcome = run_sweep(loaded, Overrides(**overrides), folder, address, quiet=quiet,
                            notifier=notifier, warm_start=warm_start)
    return Sweep(outcome.name, folder)


def compare(names: list[str], runs_dir: str | Path | None = None) -> pd.DataFrame:
    """Side by side: best objective, trials by status, wall time, epochs, time to the best."""
    return compare_sweeps(names, _runs_dir(runs_dir))


def doctor(name: str, runs_dir: str | Path | None = None) -> DoctorReport:
    """The problems a sweep's trials had, the parameter values that explain them, and the
    search-space changes they suggest (``sweeper.report.doctor.render_doctor`` prints it)."""
    return diagnose_sweep(name, _runs_dir(runs_dir))


def stop(name: str, now: bool = False, wait: bool = False, runs_dir: str | Path | None = None,
         answer_wait_s: float = 60.0) -> str:
    """Stop a running sweep from any process that sees its runs dir: no new trial starts
    and running trials run to their end (``now``: they end at once, pruned with reason
    ``stopped_by_user``); then the sweep ends as usual (best model, plots, MLflow), status
    ``stopped``. Returns what the driver answered; ``wait``: also wait for the sweep's end.
    Bad input (no such sweep, not running, a dead driver) raises UserInputError."""
    from sweeper.control.steer import ask_driver, stop_request, wait_until_ended
    from sweeper.store.sweep_view import view_sweep

    view = view_sweep(name, _runs_dir(runs_dir))
    request = stop_request(view, now)
    if isinstance(request, str):
        return request
    message = ask_driver(view, request, answer_wait_s).message()
    if wait:
        ended = wait_until_ended(view.folder)
        message += f"; the sweep {ended.status.value}"
    return message


def extend(name: str, trials: int | None = None, time_limit: float | str | None = None,
           runs_dir: str | Path | None = None, address: str | None = None, quiet: bool = True,
           notifier: Notifier | None = None, answer_wait_s: float = 60.0) -> Sweep:
    """Give a sweep ``trials`` more trials and/or ``time_limit`` more time (seconds, or
    "10m"). A running sweep's driver takes the new budget at once; a sweep that ended
    (finished, stopped, interrupted, crashed) continues here, as the same sweep: the same
    Optuna study, tables and MLflow parent run, new trials numbered after the old ones."""
    folder = _runs_dir(runs_dir)
    extend_outcome(name, folder, trials, time_limit, address, quiet, notifier, answer_wait_s)
    return Sweep(name, folder)


def extend_outcome(name: str, folder: Path, trials: int | None, time_limit: float | str | None,
                   address: str | None, quiet: bool, notifier: Notifier | None,
                   answer_wait_s: float = 60.0) -> SweepOutcome | str:
    """``extend``'s work: the running driver's answer, or the outcome of the sweep
    continued here (also when its trials ended as the request came)."""
    from sweeper.config.schema import parse_duration
    from sweeper.control.steer import DriverEnding, ask_driver, extend_request, wait_until_ended
    from sweeper.errors import UserInputError
    from sweeper.status import DriverState, SweepStatus
    from sweeper.store.sweep_view import view_sweep

    if isinstance(time_limit, str):
        try:
            time_limit = parse_duration(time_limit)
        except ValueError as exc:
            raise UserInputError(f"time_limit: {exc}") from None
    view = view_sweep(name, folder)
    if view.status == SweepStatus.RUNNING and view.driver != DriverState.DEAD:
        try:
            message = ask_driver(view, extend_request(view, folder, trials, time_limit),
                                 answer_wait_s).message()
            if notifier is not None:
                notifier.note(message)
            return message
        except DriverEnding:
            if notifier is not None:
                notifier.note(f"sweep {name}'s trials ended as the request came; it "
                              "continues here once its end is written")
            wait_until_ended(view.folder)
    from sweeper.driver.restored import extend_sweep

    return extend_sweep(name, folder, trials, time_limit, address, quiet=quiet,
                        notifier=notifier)


def list_sweeps(runs_dir: str | Path | None = None) -> pd.DataFrame:
    """Every sweep in the runs dir, a row each: name, status (running, finished, stopped,
    interrupted, failed, crashed), trials by status, best, start time."""
    from sweeper.control.listing import sweep_list

    return sweep_list(_runs_dir(runs_dir))
