"""A sweep's tables, ``trials.csv`` (one row per trial) and ``history.csv`` (one row per
trial and epoch), read and written the one way: strings kept as written, atomic writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sweeper.objective import COST_METRICS, Objective
from sweeper.store.layout import HISTORY_CSV, TRIALS_CSV, existing_sweep, sweep_folder
from sweeper.store.meta import SweepMeta

__all__ = ["COST_COLUMNS", "DIAGNOSIS_COLUMN", "FINDINGS_COLUMN", "PARAM_PREFIX",
           "SCORE_COLUMN", "history_frame", "is_param_column", "objective_column",
           "objective_values", "param_column", "params_of", "read_table", "trials_frame",
           "write_table"]

PARAM_PREFIX = "param_"  # trials.csv names a parameter's column param_<name>
DIAGNOSIS_COLUMN = "diagnosis"  # trials.csv: the trial's finding codes, joined by ';'
FINDINGS_COLUMN = "findings"  # history.csv: the epoch's finding codes


SCORE_COLUMN = "score"  # trials.csv: the first objective's value at the trial's best epoch
# trials.csv: every trial's parameter count and FLOPs (as counted before training or once
# built) and its mean epoch time in seconds, also the objectives of those names
COST_COLUMNS = COST_METRICS
SCORE_PREFIX = "score_"  # trials.csv: a later objective's Keras metric at the best epoch


def objective_column(objective: Objective, first: bool) -> str:
    """The trials.csv column holding a trial's value of one of the sweep's objectives."""
    if first:
        return SCORE_COLUMN
    return objective.metric if objective.is_cost else f"{SCORE_PREFIX}{objective.metric}"


def objective_values(row: dict[str, Any], objectives: tuple[Objective, ...]
                     ) -> tuple[float | None, ...]:
    """A trials.csv row's value of each objective (None where it has none)."""
    values: list[float | None] = []
    for index, objective in enumerate(objectives):
        value = row.get(objective_column(objective, index == 0))
        number = pd.to_numeric(value, errors="coerce") if value is not None else None
        values.append(None if number is None or number != number else float(number))
    return tuple(values)


def param_column(name: str) -> str:
    return f"{PARAM_PREFIX}{name}"


def is_param_column(column: str) -> bool:
    """A parameter's column (``param_count``, a cost column, shares the prefix: not one)."""
    return column.startswith(PARAM_PREFIX) and column not in COST_COLUMNS


def params_of(row: dict[str, Any]) -> dict[str, Any]:
    """A trials.csv row's parameters by name (empty cells, i.e. inactive ones, left out)."""
    return {key[len(PARAM_PREFIX):]: value for key, value in row.items()
            if is_param_column(key) and not _missing(value)}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


# Columns that are text whatever they look like: Tune's trial ids are 8 hex digits, so
# about 1 in 40 is all digits ('21884169') or reads as a float ('1234e567'); a GPU list of
# one ('0') reads as a number.
TEXT_COLUMNS = ("trial_id", "node_id", "node_ip", "gpu_ids", DIAGNOSIS_COLUMN, FINDINGS_COLUMN)


def read_table(path: Path) -> pd.DataFrame:
    """A table sweeper wrote, with strings kept as written: a choice value such as 'nan',
    'None' or 'NA' stays a string; only empty cells are missing; ids stay text."""
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""],
                           dtype=dict.fromkeys(TEXT_COLUMNS, str))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write through a temporary file, so a reader never sees half a table."""
    tmp = path.with_suffix(".csv.tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)


def trials_frame(name: str, runs_dir: Path) -> pd.DataFrame:
    """trials.csv, with the exported model's test score beside its validation score."""
    folder = existing_sweep(runs_dir, name)
    trials = read_table(folder / TRIALS_CSV)
    test = SweepMeta.read(folder).test_score()
    if test is not None and not trials.empty:
        trials["test_score"] = trials["trial_id"].astype(str).map({test.trial_id: test.value})
    return trials


def history_frame(name: str, runs_dir: Path) -> pd.DataFrame:
    return read_table(sweep_folder(runs_dir, name) / HISTORY_CSV)
