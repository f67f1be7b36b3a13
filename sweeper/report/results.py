"""A sweep's tables for people: ranked, rendered (table, csv, json, markdown), summarised."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sweeper.errors import UserInputError
from sweeper.objective import Objective
from sweeper.search.space import planned_trials
from sweeper.store.best import rank_trials, scored_trials
from sweeper.store.pareto import (
    SIZE_COLUMNS,
    describe_values,
    front_objectives,
    pareto_front,
    sweep_best,
    sweep_pick,
)
from sweeper.store.specs import load_spec_for
from sweeper.store.tables import is_param_column, objective_column, trials_frame

__all__ = ["FORMATS", "pareto_table", "ranked", "render", "status_text"]

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


def pareto_table(trials: pd.DataFrame, objectives: tuple[Objective, ...]) -> pd.DataFrame:
    """The Pareto front (``store.pareto``), best first on the first objective: trial_id,
    number, status, a column per front objective named by its metric, the parameters."""
    rows = pareto_front(trials, objectives)
    table = pd.DataFrame(index=rows.index)
    for column in ("trial_id", "number", "status"):
        table[column] = rows.get(column)
    for index, objective in enumerate(front_objectives(objectives)):
        column = objective_column(objective, index == 0)
        values = pd.to_numeric(rows[column]) if column in rows else None
        if values is not None and objective.metric in SIZE_COLUMNS and len(values):
            values = values.round().astype("int64")  # every front row has a value
        table[objective.metric] = values
    for column in (c for c in trials.columns if is_param_column(c)):
        table[column] = rows.get(column)
    return table.reset_index(drop=True)


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
    """Counts by status and the best trial so far (``sweep_best``: in a multi-objective
    sweep, the front's trial its pick rule names, with its objective values)."""
    from sweeper.store.sweep_view import view_sweep

    view = view_sweep(name, runs_dir)
    meta = view.meta
    spec = load_spec_for(name, runs_dir).spec
    objective = spec.objectives[0]
    trials = trials_frame(name, runs_dir)
    budget = meta.trial_budget if meta.trial_budget is not None else planned_trials(spec)
    lines = view.head_lines(trials, budget)
    if trials.empty:
        return "\n".join(lines)
    best = sweep_best(trials, spec)
    rule = sweep_pick(spec)
    if best is not None:
        lines.append(f"best: trial {best.number} {objective.metric} "
                     f"{best.score:.4f} at epoch {best.best_epoch} ({best.status})")
        if rule is not None:
            size = len(pareto_front(trials, spec.objectives))
            lines.append(f"      picked by {rule} from the Pareto front ({size} trial"
                         f"{'s' if size != 1 else ''}): "
                         f"{describe_values(best.row, spec.objectives)}")
        lines.append("      " + ", ".join(f"{k}={v}" for k, v in best.params.items()))
    elif rule is not None and not scored_trials(trials).empty:
        metrics = ", ".join(o.metric for o in front_objectives(spec.objectives))
        lines.append(f"best: none yet: no scored trial has a value of every objective of "
                     f"the Pareto front ({metrics})")
    test = meta.test_score()
    if test is not None:
        lines.append(f"test: trial {test.trial_number}'s exported model, {test.describe()}")
    return "\n".join(lines)
