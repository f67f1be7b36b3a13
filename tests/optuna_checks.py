"""What a user checks in the sweep's Optuna study after a sweep: it agrees with trials.csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from optuna.trial import TrialState

from sweeper.store.study import INFEASIBLE_ATTR, open_study


def assert_study_matches_trials(folder: Path, name: str, trials: pd.DataFrame) -> None:
    """Every Optuna trial ended, one trials.csv row each, in the state and value the row
    says (COMPLETE with the row's score, PRUNED for pruned rows, FAIL for failed ones)."""
    study = open_study(folder, name)
    running = [t.number for t in study.trials if t.state == TrialState.RUNNING]
    assert not running, f"Optuna trials left RUNNING: {running}"
    launched = {t.user_attrs["tune_trial_id"]: t for t in study.trials
                if "tune_trial_id" in t.user_attrs and not t.user_attrs.get("orphaned")}
    rows = trials[trials["status"] != "infeasible"]
    assert set(launched) == set(rows["trial_id"]), (sorted(launched), sorted(rows["trial_id"]))
    for row in rows.itertuples():
        trial = launched[row.trial_id]
        assert trial.number == row.number
        if row.status == "pruned":
            assert trial.state == TrialState.PRUNED, (row.trial_id, row.status, trial.state)
        elif row.status in ("completed", "stopped_early"):
            assert trial.state == TrialState.COMPLETE, (row.trial_id, row.status, trial.state)
            assert trial.value == row.score, (row.trial_id, trial.value, row.score)
        else:
            assert trial.state == TrialState.FAIL, (row.trial_id, row.status, trial.state)
    infeasible = {t.number for t in study.trials if INFEASIBLE_ATTR in t.user_attrs}
    assert infeasible == set(trials.loc[trials["status"] == "infeasible", "number"])
