"""Where a real sweep starts: its first trial is the defaults within the space, the file's
``search.start`` points come next, and ``--warm-start`` gives a new study an earlier sweep's
finished trials (on the same data only)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from optuna.trial import TrialState

from sweeper.store.study import open_study
from sweeper.store.tables import read_table
from tests.conftest import sweeper, write_space
from tests.optuna_checks import assert_study_matches_trials

pytestmark = [pytest.mark.slow, pytest.mark.integration]

FIRST = """\
data: {source: digits}
budget: {trials: %(trials)d, max_epochs: 2}
search:
  algorithm: tpe
  seed: 1
  start:
    - {optimizer: sgd, momentum: 0.5, learning_rate: 0.02}
scheduler: {kind: fifo}
early_stopping: {patience: null}
resources: {cpus_per_trial: 1, concurrency: 1}
space:
  optimizer: {choice: [sgd, adam]}
  momentum: {float: [0.5, 0.99], when: {optimizer: sgd}}
  learning_rate: {float: [1.0e-4, 5.0e-2], log: true}
  filters: {choice: %(filters)s}
  dropout: {float: [0.3, 0.5]}
  dense_units: 0
"""


def test_defaults_first_then_start_points_then_a_warm_start_of_what_fits(
        tmp_path: Path, ray_head: str) -> None:
    runs = tmp_path / "runs"
    first = write_space(tmp_path, "first", FIRST % {"trials": 4, "filters": "[4, 8, 16]"})
    done = sweeper("run", str(first), "--runs-dir", str(runs), "--address", ray_head,
                   "--quiet")
    assert done.returncode == 0, done.stderr
    trials = read_table(runs / "first" / "trials.csv").set_index("number").sort_index()
    # trial 0: the built-in CNN's defaults where the space has them (adam, 1e-3), else the
    # nearest allowed value (16 filters for 32, dropout 0.3 for 0.25); no momentum for adam
    zero = trials.loc[0]
    assert (zero["param_optimizer"], zero["param_learning_rate"], zero["param_filters"],
            zero["param_dropout"]) == ("adam", 1.0e-3, 16, 0.3)
    assert math.isnan(zero["param_momentum"])
    one = trials.loc[1]  # the file's start point; filters and dropout sampled
    assert (one["param_optimizer"], one["param_momentum"], one["param_learning_rate"]) == \
        ("sgd", 0.5, 0.02)
    assert len(trials) == 4 and (trials["status"] == "completed").all()
    assert_study_matches_trials(runs / "first", "first", trials.reset_index())

    # a new space without 4 filters: the old trials with 4 filters are left out
    second = write_space(tmp_path, "second", FIRST % {"trials": 2, "filters": "[8, 16]"})
    warm = sweeper("run", str(second), "--runs-dir", str(runs), "--address", ray_head,
                   "--quiet", "--warm-start", "first")
    assert warm.returncode == 0, warm.stderr
    fits = trials[trials["param_filters"] != 4]
    assert f"warm start: {len(fits)} finished trial(s) of sweep 'first'" in warm.stdout
    study = open_study(runs / "second", "second")
    carried = [t for t in study.trials if t.user_attrs.get("warm_start_from") == "first"]
    assert sorted(t.user_attrs["warm_start_number"] for t in carried) == sorted(fits.index)
    history = read_table(runs / "first" / "history.csv")
    for trial in carried:
        old = history[history["number"] == trial.user_attrs["warm_start_number"]]
        assert trial.state == TrialState.COMPLETE
        assert trial.value == fits.loc[trial.user_attrs["warm_start_number"], "score"]
        assert trial.intermediate_values == dict(zip(old["epoch"], old["objective"],
                                                     strict=True))
    new_trials = read_table(runs / "second" / "trials.csv")
    assert len(new_trials) == 2  # the budget counts this sweep's own trials only
    assert min(new_trials["number"]) == len(carried)
    assert_study_matches_trials(runs / "second", "second", new_trials)

    # other data (another split): refused before anything is written
    other = write_space(tmp_path, "other", FIRST.replace("source: digits",
                                                         "source: digits, seed: 5")
                        % {"trials": 2, "filters": "[8, 16]"})
    refused = sweeper("run", str(other), "--runs-dir", str(runs), "--address", ray_head,
                      "--warm-start", "first")
    assert refused.returncode == 2, refused.stderr
    assert "trained on other data" in refused.stderr and "Traceback" not in refused.stderr
    assert not (runs / "other").exists()
