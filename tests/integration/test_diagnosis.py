"""Diagnosis for real: each planted fault of tests/planted.py is named, healthy models of
several kinds raise nothing, and a sweep prunes a diagnosed trial and says why in
trials.csv, history.csv, Optuna, MLflow, the progress lines and ``sweeper doctor``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType

from sweeper.store.tables import read_table
from tests.conftest import sweeper, write_space
from tests.mlflow_checks import assert_sweep_in_mlflow
from tests.optuna_checks import assert_study_matches_trials
from tests.planted import FAULTS, HEALTHY, ROOT, Recipe, load_data, train

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ON_DIGITS = [r for r in HEALTHY + FAULTS if "digits" in r.sources]


@pytest.fixture(scope="module")
def digits() -> Any:
    return load_data("digits")


@pytest.mark.parametrize("recipe", [r for r in ON_DIGITS if r.plants], ids=lambda r: r.name)
def test_each_planted_fault_is_named(recipe: Recipe, digits: Any) -> None:
    outcome = train(recipe, "digits", digits)
    assert recipe.plants in outcome.codes, (outcome.codes, outcome.curves[-1:])
    if recipe.plants == "nan_loss":
        assert outcome.failed == "nan_loss"  # a NaN loss stays a failure


@pytest.mark.parametrize("recipe", [r for r in ON_DIGITS if not r.plants], ids=lambda r: r.name)
def test_healthy_models_raise_nothing(recipe: Recipe, digits: Any) -> None:
    outcome = train(recipe, "digits", digits)
    assert outcome.codes == [], outcome.curves
    assert outcome.best is not None and outcome.best > 0.9
    probed = outcome.curves[-1]
    assert probed["probe_grad_norm"] > 0
    if recipe.kind.endswith("subclassed"):  # layers inside call(): gradients only
        assert "probe_dead_relu_share" not in probed and "probe_input_std" not in probed
    else:
        assert "probe_input_std" in probed
        has_relu = recipe.space.get("activation", "relu") == "relu"
        assert ("probe_dead_relu_share" in probed) == has_relu


def test_sweeper_train_names_what_it_found(tmp_path: Path) -> None:
    path = write_space(tmp_path, "crawl", """\
        data: {source: digits}
        budget: {max_epochs: 3}
        space: {learning_rate: 1.0e-7}
        """)
    result = sweeper("train", str(path), "--runs-dir", str(tmp_path / "runs"), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "diagnosis: stalled (severe, epoch 2)" in result.stdout
    assert "raise the learning rate" in result.stdout  # the fix, in the seed's words
    saved = json.loads((tmp_path / "runs" / "crawl" / "model.json").read_text())
    assert [f["code"] for f in saved["findings"]] == ["stalled"]


def test_a_sweep_prunes_a_diagnosed_trial_and_says_why_everywhere(tmp_path: Path,
                                                                 ray_head: str) -> None:
    path = write_space(tmp_path, "diagnosed", """\
        data: {source: digits}
        model: {kind: "tests.planted_models:by_mode"}
        budget: {max_epochs: 3}
        search: {algorithm: grid}
        scheduler: {kind: fifo}
        early_stopping: {patience: null}
        resources: {concurrency: 2}
        space:
          mode: {choice: [healthy, dead]}
        """)
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head,
                     cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = runs / "diagnosed"
    trials = read_table(folder / "trials.csv").set_index("param_mode")
    dead, healthy = trials.loc["dead"], trials.loc["healthy"]
    assert (dead["status"], dead["reason"], dead["epochs"]) == ("pruned", "diagnosis", 1)
    assert "dead_relu" in dead["diagnosis"].split(";")
    assert healthy["status"] == "completed" and int(healthy["epochs"]) == 3
    assert not isinstance(healthy["diagnosis"], str)  # an empty cell: nothing found
    assert f"trial {dead['number']} pruned (diagnosis: dead_relu" in result.stdout

    history = read_table(folder / "history.csv")
    dead_epochs = history[history["trial_id"] == dead["trial_id"]]
    assert list(dead_epochs["epoch"]) == [1]
    assert "dead_relu" in dead_epochs["findings"].iloc[0]
    assert dead_epochs["probe_dead_relu_share"].iloc[0] >= 0.9

    # Optuna: PRUNED with the values it reached, so TPE learns from it
    table = trials.reset_index()
    assert_study_matches_trials(folder, "diagnosed", table)
    study = optuna.load_study(study_name="diagnosed", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal"))))
    pruned = study.trials[int(dead["number"])]
    assert pruned.state == optuna.trial.TrialState.PRUNED
    assert list(pruned.intermediate_values) == [1]

    # MLflow: KILLED with its reason, the codes as tags, the evidence as an artifact
    uri = f"sqlite:///{runs / 'mlflow.db'}"
    assert_sweep_in_mlflow(uri, "diagnosed", table, history)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("diagnosed")
    assert experiment is not None
    runs_by_role = client.search_runs([experiment.experiment_id],
                                      run_view_type=ViewType.ACTIVE_ONLY)
    child = next(r for r in runs_by_role
                 if r.data.tags.get("sweeper.trial_id") == dead["trial_id"])
    assert child.info.status == "KILLED"
    assert child.data.tags["sweeper.reason"] == "diagnosis"
    assert "dead_relu" in child.data.tags["sweeper.diagnosis"]
    assert child.data.tags["sweeper.diagnosis.dead_relu"] == "severe"
    local = client.download_artifacts(child.info.run_id, "diagnosis.json", str(tmp_path))
    evidence = {f["code"]: f for f in json.loads(Path(local).read_text())}
    assert evidence["dead_relu"]["evidence"]["dead_share"] >= 0.9
    assert "leaky_relu" in evidence["dead_relu"]["fix"]
    parent = next(r for r in runs_by_role if r.data.tags.get("sweeper.role") == "sweep")
    assert "doctor.md" in {a.path for a in client.list_artifacts(parent.info.run_id)}

    doctor = sweeper("doctor", "diagnosed", "--runs-dir", str(runs), "--format", "json")
    assert doctor.returncode == 0, doctor.stderr
    report = json.loads(doctor.stdout)
    assert {c["code"]: c["trials"] for c in report["findings"]}["dead_relu"] == 1
    assert "dead_relu" in (folder / "doctor.md").read_text()


def test_the_probe_changes_nothing_training_depends_on(digits: Any) -> None:
    """Batch-norm statistics, dropout's and augmentation's random state, the weights: as
    training left them, after any number of probes."""
    import numpy as np

    from sweeper.diagnosis.probe import Probe
    from sweeper.models.cnn.build import build_cnn
    from sweeper.trial.trainable import input_info

    model = build_cnn({"augmentation": 0.5, "dropout": 0.5}, input_info(digits, False))
    before = [np.array(v) for v in model.variables]
    probe = Probe(model, digits.x_train, digits.y_train)
    readings = [probe.measure(step) for step in (0, 10)]
    assert all(r.grad_norm > 0 and r.relu_units for r in readings)
    after = [np.array(v) for v in model.variables]
    assert len(before) == len(after) and all(
        np.array_equal(a, b) for a, b in zip(before, after, strict=True))
