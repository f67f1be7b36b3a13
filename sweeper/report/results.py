"""A sweep's tables for people: ranked, rendered (table, csv, json, markdown), summarised."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sweeper.errors import UserInputError
from sweeper.objective import Objective
from sweeper.store.best import best_trial, rank_trials
from sweeper.store.layout import existing_sweep
from sweeper.store.meta import SweepMeta
from sweeper.store.specs import load_spec_for
from sweeper.store.tables import trials_frame

__all__ = ["FORMATS", "ranked", "render", "status_text"]

FORMATS = ("table", "csv", "json", "markdown")


def ranked(trials: pd.DataFrame, objective: Objective, sort: str | None = None,
           top: int | None = None) -> pd.DataFrame:
    """Trials best first (the best-trial rule: scored trials by score, then the rest by
    number), or ordered by the column ``sort``; NaN last."""
    if trials.empty:
        return trials
    if sort is not None and sort != "score":
        if sort not in trials.columns:
            raise UserInputError(f"--sort: no column {sort!r}; columns: "
                                 f"{', '.join(trials.columns)}")
        frame = trials.sort_values(sort, na_position="last", kind="stable")
    else:
        best_first = rank_trials(trials, objective)
        rest = trials.drop(index=best_first.index).sort_values("number", kind="stable")
        frame = pd.concat([best_first, rest])
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
    meta = SweepMeta.read(existing_sweep(runs_dir, name))
    objective = load_spec_for(name, runs_dir).spec.objective.objective()
    trials = trials_frame(name, runs_dir)
    lines = [f"sweep {name}: {meta.status}"]
    if trials.empty:
        return "\n".join([*lines, "no trial has started yet"])
    counts = trials["status"].value_counts()
    lines.append("trials: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    best = best_trial(trials, objective)
    if best is not None:
        lines.append(f"best: trial {best.number} {objective.metric} "
                     f"{best.score:.4f} at epoch {best.best_epoch} ({best.status})")
        lines.append("      " + ", ".join(f"{k}={v}" for k, v in best.params.items()))
    test = meta.test_score()
    if test is not None:
        lines.append(f"test: trial {test.trial_number}'s exported model, {test.describe()}")
    return "\n".join(lines)
