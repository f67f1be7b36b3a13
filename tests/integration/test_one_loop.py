"""`sweeper train` is a sweep's trial with one fixed configuration: for the same seed, data
and thread counts, with TensorFlow's op determinism on, both train the same epochs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sweeper.store.tables import read_table
from tests.conftest import sweeper, write_space

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TOLERANCE = 1e-5  # absolute, on every logged metric of every epoch
DETERMINISTIC = {"TF_DETERMINISTIC_OPS": "1", "TF_NUM_INTRAOP_THREADS": "1",
                 "TF_NUM_INTEROP_THREADS": "1", "PYTHONHASHSEED": "0"}


def test_train_and_a_sweep_trial_give_the_same_history(tmp_path: Path) -> None:
    env = {**os.environ, **DETERMINISTIC, "RAY_AUTH_MODE": "token"}
    space = write_space(tmp_path, "one-loop", """
        data: {source: digits}
        budget: {trials: 1, max_epochs: 3}
        resources: {cpus_per_trial: 1}
        early_stopping: {patience: 2}
        space:
          depth: 2
          filters: 8
          dense_units: 16
          dropout: 0.2
          augmentation: 0.3
          learning_rate: 3.0e-3
        """)
    runs = tmp_path / "runs"
    run = sweeper("run", str(space), "--runs-dir", str(runs), "--address", "local", "--quiet",
                  env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    best = tmp_path / "best.yaml"
    exported = sweeper("export", "one-loop", "--runs-dir", str(runs), "-o", str(best), env=env)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    model = tmp_path / "model.keras"
    trained = sweeper("train", str(best), "--output", str(model), "--quiet", env=env)
    assert trained.returncode == 0, trained.stdout + trained.stderr

    sweep_epochs = read_table(runs / "one-loop" / "history.csv").sort_values("epoch")
    train_epochs = json.loads(model.with_suffix(".json").read_text())["history"]
    assert len(train_epochs) == len(sweep_epochs) == 3
    for epoch, (_, swept) in zip(train_epochs, sweep_epochs.iterrows(), strict=True):
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy", "objective", "lr"):
            assert abs(epoch[metric] - float(swept[metric])) <= TOLERANCE, (
                f"epoch {swept['epoch']}: {metric} {epoch[metric]} (train) against "
                f"{swept[metric]} (sweep)")
    report = json.loads(model.with_suffix(".json").read_text())
    trials = read_table(runs / "one-loop" / "trials.csv")
    assert report["best_epoch"] == int(trials["best_epoch"][0])
    assert abs(report["objective"] - float(trials["score"][0])) <= TOLERANCE


def test_a_stopped_trial_ends_within_a_batch_and_reports_nothing_more() -> None:
    """Tune reuses a worker only once the stopped trial's thread has ended (and fails the
    next trial after a short wait): the loop checks for the stop after every batch."""
    from sweeper.config import loads
    from sweeper.data.dataset import load_dataset
    from sweeper.models.kinds import resolve_kind
    from sweeper.result import TrialResult
    from sweeper.status import Status
    from sweeper.trial.loop import EarlyStoppingState, LoopSettings, StopRequested, fit
    from sweeper.trial.trainable import input_info

    loaded = loads("data: {source: digits}\nbudget: {trials: 1, max_epochs: 3}\n"
                   "space: {filters: 4, depth: 1, dense_units: 0}\n")
    dataset = load_dataset(loaded)
    params = {"filters": 4, "depth": 1, "dense_units": 0}
    model = resolve_kind(loaded).build(params, input_info(dataset, False))
    asked: list[int] = []
    epochs: list[TrialResult] = []

    def stop_requested() -> bool:
        asked.append(1)
        return len(asked) >= 3  # Tune stops the trial during its third batch

    with pytest.raises(StopRequested):
        fit(model, dataset, params, 0, LoopSettings.of(loaded.spec), EarlyStoppingState(),
            TrialResult(number=0, seed=0, epoch=0, status=Status.RUNNING),
            lambda result, _: epochs.append(result), stop_requested=stop_requested)
    assert len(asked) == 3 and epochs == []  # three batches of the first epoch, no report
    assert int(model.optimizer.iterations.numpy()) == 3
