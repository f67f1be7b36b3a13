"""Two-objective sweeps and hard constraints on digits, against the real Ray head: what
trials.csv, the Optuna study and the trial records hold when a model is over a limit before
it starts (counted by the built-in CNN), once built (a builder's model) or in its first
epoch (too slow)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import optuna
import pandas as pd
import pytest

from sweeper.store.study import open_study
from sweeper.store.tables import read_table
from tests.conftest import sweeper, write_space

pytestmark = [pytest.mark.slow, pytest.mark.integration]

MAX_PARAMS = 20_000

TWO_OBJECTIVES = f"""\
data: {{source: digits}}
objective: [{{metric: val_accuracy, mode: max}}, {{metric: param_count, mode: min}}]
constraints: {{max_params: {MAX_PARAMS}}}
budget: {{trials: 6, max_epochs: 2}}
search:
  algorithm: nsga2
  seed: 1
  start: [{{filters: 4, dense_units: 0, depth: 1}}, {{filters: 32, dense_units: 256, depth: 1}}]
scheduler: {{kind: asha, grace_period: 1, reduction_factor: 2}}
resources: {{concurrency: 2}}
space:
  learning_rate: {{float: [0.001, 0.01], log: true}}
  filters: {{choice: [4, 8, 32]}}
  depth: {{int: [1, 2]}}
  dense_units: {{choice: [0, 64, 256]}}
  batch_size: 64
"""


def run(tmp_path: Path, path: Path, address: str) -> tuple[Path, pd.DataFrame]:
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", address)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    folder = runs / path.stem
    return folder, read_table(folder / "trials.csv")


def test_two_objectives_with_a_size_limit_counted_before_the_start(tmp_path: Path,
                                                                   ray_head: str) -> None:
    folder, trials = run(tmp_path, write_space(tmp_path, "two-objectives", TWO_OBJECTIVES),
                         ray_head)
    assert len(trials) == 6
    assert trials["param_count"].notna().all()  # every trial, launched or not
    over = trials["param_count"] > MAX_PARAMS
    assert over.any() and (~over).any()  # the start points: one each side
    assert (trials.loc[over, "status"] == "infeasible").all()
    assert trials.loc[over, "reason"].str.contains("over constraints.max_params").all()
    assert trials.loc[over, "trial_id"].str.startswith("infeasible_").all()  # never launched
    ran = trials[~over]  # ASHA ranks them on the first objective, val_accuracy
    assert ran["status"].isin(["completed", "pruned"]).all()
    assert ran["flops"].notna().all() and (ran["flops"] > 0).all()  # measured on the model
    assert ran["epoch_seconds"].notna().all() and (ran["epoch_seconds"] > 0).all()
    study = open_study(folder, "two-objectives")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    by_number = {t.number: t for t in study.trials}
    for row in trials.itertuples():
        trial = by_number[int(row.number)]
        if row.status == "infeasible":
            assert trial.state == optuna.trial.TrialState.COMPLETE
            assert trial.constraints["max_params"] > 0
        elif row.status == "pruned":
            assert trial.state == optuna.trial.TrialState.PRUNED
        else:  # what NSGA-II ranks: the trial's score and its model's size, both true
            assert trial.state == optuna.trial.TrialState.COMPLETE
            assert trial.constraints["max_params"] == 0.0
            assert trial.values == pytest.approx([float(row.score), float(row.param_count)])
    # the front a user reads: never an infeasible trial, none beaten on both objectives
    result = sweeper("results", "two-objectives", "--runs-dir", str(folder.parent), "--pareto",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    front = json.loads(result.stdout)
    numbers = {int(r["number"]) for r in front}
    scored = trials[trials["status"].isin(["completed", "pruned"])]
    assert numbers and numbers <= set(scored["number"].astype(int))
    for row in scored.itertuples():
        beaten = ((scored["score"] >= row.score) & (scored["param_count"] <= row.param_count)
                  & ((scored["score"] > row.score) | (scored["param_count"] < row.param_count)))
        assert (int(row.number) in numbers) == (not beaten.any())
    exported = folder.parent / "small.yaml"
    result = sweeper("export", "two-objectives", "--runs-dir", str(folder.parent), "--pick",
                     "smallest-within:1.0", "-o", str(exported))
    assert result.returncode == 0, result.stderr
    smallest = min(front, key=lambda r: (r["param_count"], -r["val_accuracy"]))
    assert f"trial_number: {smallest['number']}" in exported.read_text()


BUILDER = '''
import time

import keras
import numpy as np
import tensorflow as tf


class Slow(keras.layers.Layer):
    """Half a second per training batch: an epoch far longer than any limit below."""

    def call(self, x, training=False):
        if not training:
            return x
        def wait(value):
            time.sleep(0.5)
            return value
        y = tf.numpy_function(wait, [x], x.dtype)
        return tf.ensure_shape(y, x.shape)


def build(params, input_shape, num_classes):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 16)(inputs))
    if params["mode"] == "slow":
        x = Slow()(x)
    width = 4096 if params["mode"] == "big" else 16
    x = keras.layers.Dense(width, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


def test_limits_checked_once_built_and_during_the_first_epoch(tmp_path: Path,
                                                               ray_head: str) -> None:
    (tmp_path / "limited_models.py").write_text(textwrap.dedent(BUILDER))
    path = write_space(tmp_path, "limits-on-workers", """\
        data: {source: digits}
        model: {kind: limited_models:build}
        objective: [{metric: val_accuracy}, {metric: val_loss}]  # a later Keras metric
        constraints: {max_params: 20000, max_epoch_seconds: 10}
        budget: {trials: 3, max_epochs: 1}
        search: {algorithm: tpe, start: [{mode: big}, {mode: slow}, {mode: small}]}
        scheduler: {kind: fifo}
        resources: {concurrency: 2}
        space:
          mode: {choice: [small, big, slow]}
          batch_size: 32
        """.replace("        ", ""))
    folder, trials = run(tmp_path, path, ray_head)
    by_mode = trials.set_index("param_mode")
    assert set(by_mode.index) == {"small", "big", "slow"}
    big, slow, small = by_mode.loc["big"], by_mode.loc["slow"], by_mode.loc["small"]
    assert small["status"] == "completed" and small["param_count"] < 20000
    for row in (big, slow):  # ended before an epoch was reported, as infeasible, not failed
        assert row["status"] == "infeasible" and row["reason"] == "constraint"
        assert int(row["epochs"]) == 0 and pd.isna(row["score"])
    assert big["param_count"] > 20000 and "over constraints.max_params 20,000" in big["error"]
    assert "over constraints.max_epoch_seconds 10" in slow["error"]
    study = open_study(folder, "limits-on-workers")
    told = {t.params["mode"]: t for t in study.trials}
    assert told["big"].constraints["max_params"] > 0
    assert told["slow"].constraints["max_params"] == 0.0  # small enough; too slow
    assert told["slow"].constraints["max_epoch_seconds"] > 0
    assert told["small"].state == optuna.trial.TrialState.COMPLETE
    # its val_loss at the epoch of its best val_accuracy, in trials.csv and told to Optuna
    assert 0 < float(small["score_val_loss"]) < 10
    assert told["small"].values == pytest.approx([float(small["score"]),
                                                  float(small["score_val_loss"])])
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in told.values())
    assert told["big"].values == [-1.0e9, 1.0e9]  # stand-ins: worst on both objectives
