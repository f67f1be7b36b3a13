"""The Python API for notebooks: ``sweeper.run(...)`` and ``sweeper.load(NAME)``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from sweeper import spec as spec_module
from sweeper.engine import STUDY_FILE, Overrides, SweepMeta, load_spec_for, run_sweep, sweep_folder
from sweeper.holdout import TestScore
from sweeper.results import history_frame, ranked, trials_frame
from sweeper.status import Status
from sweeper.yamlio import dump


def _runs_dir(runs_dir: str | Path | None) -> Path:
    return Path(runs_dir or os.environ.get("SWEEPER_RUNS_DIR") or "runs")


class Sweep:
    """A sweep on disk: its tables, its study, its best trial."""

    def __init__(self, name: str, runs_dir: str | Path | None = None) -> None:
        self.runs_dir = _runs_dir(runs_dir)
        self.name = name
        self.folder = sweep_folder(self.runs_dir, name)
        self.meta = SweepMeta.read(self.folder)  # raises when there is no such sweep
        self.loaded = load_spec_for(name, self.runs_dir)

    def __repr__(self) -> str:
        return f"Sweep({self.name!r}, status={self.meta.status!r}, trials={len(self.trials)})"

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial (the columns of trials.csv)."""
        return trials_frame(self.name, self.runs_dir)

    @property
    def history(self) -> pd.DataFrame:
        """One row per trial and epoch."""
        return history_frame(self.name, self.runs_dir)

    @property
    def study(self) -> Any:
        import optuna

        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(self.folder / STUDY_FILE)))
        return optuna.load_study(study_name=self.loaded.spec.name, storage=storage)

    def best(self) -> dict[str, Any] | None:
        """The best scored trial as a dict (its row), or None."""
        trials = self.trials
        scored = trials[trials["status"].isin([s.value for s in Status if s.scored])]
        scored = scored[scored["score"].notna()]
        if scored.empty:
            return None
        return dict(ranked(scored, self.loaded.spec.objective.direction).iloc[0])

    @property
    def test(self) -> TestScore | None:
        """The exported best model's score on the test split (None without one)."""
        return SweepMeta.read(self.folder).test_score()

    def export(self, path: str | Path, model: str | Path | None = None,
               trial: str | None = None) -> Path:
        """Write the best (or the named) trial as a fixed search-space file."""
        from sweeper.export import export

        output = Path(path)
        export(self.name, self.runs_dir, output, Path(model) if model else None, trial)
        return output

    def plots(self) -> list[Path]:
        """Write the PNG plots to runs/NAME/plots/ and return them."""
        from sweeper.plots import make_plots

        spec = self.loaded.spec
        return make_plots(self.folder, self.study, self.trials, self.history,
                          spec.objective.metric, spec.objective.direction)


def load(name: str, runs_dir: str | Path | None = None) -> Sweep:
    """Open a finished, interrupted or running sweep by name."""
    return Sweep(name, runs_dir)


def run(path_or_spec: str | Path | dict[str, Any], runs_dir: str | Path | None = None,
        address: str | None = None, quiet: bool = True, **overrides: Any) -> Sweep:
    """Run a sweep from a search-space file (or the same structure as a dict) and return it.

    ``overrides`` are the command line's: name, trials, max_epochs, time_limit, concurrency,
    gpus_per_trial, cpus_per_trial, seed, storage, tracking_uri.
    """
    folder = _runs_dir(runs_dir)
    if isinstance(path_or_spec, dict):
        name = str(path_or_spec.get("name") or overrides.get("name") or "sweep")
        handle, tmp = tempfile.mkstemp(prefix=f"{name}-", suffix=".yaml")
        os.close(handle)
        path = Path(tmp)
        path.write_text(dump({"name": name, **path_or_spec}))
    else:
        path = Path(path_or_spec)
    loaded = spec_module.load(path)
    outcome = run_sweep(loaded, Overrides(**overrides), folder, address, quiet=quiet)
    return Sweep(outcome.name, folder)


def compare(names: list[str], runs_dir: str | Path | None = None) -> pd.DataFrame:
    """Side by side: best objective, trials by status, wall time, epochs, time to the best."""
    rows = []
    for name in names:
        sweep = load(name, runs_dir)
        trials, history = sweep.trials, sweep.history
        spec = sweep.loaded.spec
        best = sweep.best()
        test = sweep.test
        to_best = None
        if best is not None and not history.empty:
            reached = history[(history["trial_id"] == best["trial_id"])
                              & (history["objective"] == best["score"])]
            to_best = float(reached["seconds"].min()) if not reached.empty else None
        counts = trials["status"].value_counts().to_dict() if not trials.empty else {}
        rows.append({
            "sweep": name,
            "metric": spec.objective.metric,
            "best": best["score"] if best else None,
            "best_trial": best["number"] if best else None,
            "test": test.value if test else None,
            "trials": len(trials),
            **{status.value: int(counts.get(status.value, 0)) for status in Status
               if status.terminal},
            "wall_s": float(trials["ended_s"].max()) if not trials.empty else None,
            "epochs": int(trials["epochs"].sum()) if not trials.empty else 0,
            "to_best_s": to_best,
        })
    return pd.DataFrame(rows)
