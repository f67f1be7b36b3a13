"""A sweep's tables as pandas frames, and their rendering (table, csv, json, markdown)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sweeper.engine import SWEEP_JSON, SweepMeta, load_spec_for, sweep_folder
from sweeper.errors import UserInputError
from sweeper.recorder import HISTORY_CSV, TRIALS_CSV, read_table

FORMATS = ("table", "csv", "json", "markdown")


def trials_frame(name: str, runs_dir: Path) -> pd.DataFrame:
    folder = sweep_folder(runs_dir, name)
    if not (folder / SWEEP_JSON).exists():
        known = sorted(p.parent.name for p in runs_dir.glob(f"*/{SWEEP_JSON}"))
        raise UserInputError(f"no sweep named {name!r} in {runs_dir}"
                             + (f"; sweeps there: {', '.join(known)}" if known else ""))
    trials = read_table(folder / TRIALS_CSV)
    test = SweepMeta.read(folder).test_score()
    if test is not None and not trials.empty:
        # the exported best model's one score on the test split, beside its validation score
        trials["test_score"] = trials["trial_id"].astype(str).map({test.trial_id: test.value})
    return trials


def history_frame(name: str, runs_dir: Path) -> pd.DataFrame:
    return read_table(sweep_folder(runs_dir, name) / HISTORY_CSV)


def ranked(trials: pd.DataFrame, mode: str, sort: str | None = None,
           top: int | None = None) -> pd.DataFrame:
    """Trials ordered by score (best first) or by ``sort``; NaN scores last."""
    if trials.empty:
        return trials
    key = sort or "score"
    if key not in trials.columns:
        raise UserInputError(f"--sort: no column {key!r}; columns: {', '.join(trials.columns)}")
    ascending = key != "score" or mode == "min"
    frame = trials.sort_values(key, ascending=ascending, na_position="last", kind="stable")
    return frame.head(top) if top else frame


def render(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        return json.dumps(records, indent=2, default=lambda v: v.item())  # exact floats
    if fmt == "markdown":
        return frame.to_markdown(index=False)
    with pd.option_context("display.max_columns", None, "display.width", 200,
                           "display.max_colwidth", 40):
        return frame.drop(columns=[c for c in ("error",) if c in frame]).to_string(index=False)


def status_text(name: str, runs_dir: Path) -> str:
    """Counts by status and the best trial so far."""
    meta = SweepMeta.read(sweep_folder(runs_dir, name))
    spec = load_spec_for(name, runs_dir).spec
    trials = trials_frame(name, runs_dir)
    lines = [f"sweep {name}: {meta.status}"]
    if trials.empty:
        return "\n".join([*lines, "no trial has started yet"])
    counts = trials["status"].value_counts()
    lines.append("trials: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    best = ranked(trials.dropna(subset=["score"]), spec.objective.direction).head(1)
    if not best.empty:
        row = best.iloc[0]
        params = {c[len("param_"):]: row[c] for c in best.columns
                  if c.startswith("param_") and pd.notna(row[c])}
        lines.append(f"best: trial {row['number']} {spec.objective.metric} "
                     f"{row['score']:.4f} at epoch {row['best_epoch']} ({row['status']})")
        lines.append("      " + ", ".join(f"{k}={v}" for k, v in params.items()))
    test = meta.test_score()
    if test is not None:
        lines.append(f"test: trial {test.trial_number}'s exported model, {test.describe()}")
    return "\n".join(lines)
