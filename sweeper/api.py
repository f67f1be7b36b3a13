"""The Python API for notebooks: ``sweeper.run(...)``, ``sweeper.load(NAME)``,
``sweeper.compare([...])``. Reading a sweep imports neither Ray nor TensorFlow."""

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

    from sweeper.notify import Notifier
    from sweeper.objective import Pick

__all__ = ["Sweep", "compare", "doctor", "load", "load_spec", "run"]


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
