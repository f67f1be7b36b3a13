"""The best trial: defined here once, for status, results, export, the API, progress and
MLflow alike. A trial counts only with a scored status (completed, stopped early, pruned)
and a finite score; a failed or infeasible trial is never best, whatever score it kept.
Ties go to the earlier trial. A sweep's best, single- or multi-objective, is
``store.pareto.sweep_best``: this rule for one objective without a pick, else a pick rule on
the Pareto front."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sweeper.objective import Objective
from sweeper.status import Status
from sweeper.store.tables import params_of

__all__ = ["BestTrial", "best_trial", "rank_trials", "scored_trials"]


@dataclass(frozen=True)
class BestTrial:
    """The chosen trial's row of trials.csv (``row``), with the fields every caller
    reads."""

    trial_id: str
    number: int
    score: float
    best_epoch: int
    status: Status
    row: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        return params_of(self.row)

    @classmethod
    def of(cls, row: dict[str, Any]) -> BestTrial:
        return cls(str(row["trial_id"]), int(row["number"]), float(row["score"]),
                   int(row["best_epoch"]), Status(row["status"]), dict(row))


def scored_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials that may be best: a scored status and a finite score."""
    if trials.empty or "score" not in trials:
        return trials.iloc[0:0]
    scored = trials["status"].isin([status.value for status in Status if status.scored])
    finite = np.isfinite(pd.to_numeric(trials["score"], errors="coerce"))
    return trials[scored & finite]


def rank_trials(trials: pd.DataFrame, objective: Objective) -> pd.DataFrame:
    """Scored trials, best first (ties: the lower trial number first)."""
    return scored_trials(trials).sort_values(["score", "number"],
                                             ascending=[objective.ascending, True])


def best_trial(trials: pd.DataFrame, objective: Objective) -> BestTrial | None:
    ranked = rank_trials(trials, objective)
    return None if ranked.empty else BestTrial.of(ranked.iloc[0].to_dict())
