"""The test split: held out from every choice, it scores the exported best model once, and
that score is shown wherever the validation score is (summary, status, results, export,
MLflow). With the defaults, it agrees with the validation score on a colour folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow import MlflowClient

import sweeper as sweeper_api
from sweeper import config as spec_module
from sweeper.data.dataset import load_dataset
from tests.conftest import sweeper, write_space
from tests.images import write_colour_shapes

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SPACE = """\
data: {{source: directory, path: {folder}}}
budget: {{trials: 2, max_epochs: 10}}
search: {{algorithm: grid}}
scheduler: {{kind: fifo}}
early_stopping: {{patience: 3}}
resources: {{concurrency: 2}}
space:
  learning_rate: {{choice: [1.0e-3, 2.0e-3]}}
  dense_units: 64
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, ray_head: str) -> tuple[Path, str, Path]:
    folder = tmp_path_factory.mktemp("test-split")
    images = folder / "shapes"
    write_colour_shapes(images, per_class=300, size=32, seed=7)  # 3,000 images: 10% held out
    path = write_space(folder, "shapes", SPACE.format(folder=images))
    runs = folder / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head)
    assert result.returncode == 0, result.stdout + result.stderr
    return runs, result.stdout, path


def test_the_split_is_said_and_held_out_of_training(swept: tuple[Path, str, Path]) -> None:
    _, stdout, path = swept
    assert "2100 train, 600 validation, 300 test images held out (the default" in stdout
    data = load_dataset(spec_module.load(path))
    assert data.test_images == 300
    assert np.bincount(data.y_test).tolist() == [30] * 10  # stratified
    trial_data = data.for_trials()
    assert trial_data.x_test is None and trial_data.fingerprint() == data.fingerprint()
    train = {a.tobytes() for a in data.x_train}
    assert not any(a.tobytes() in train for a in data.x_test)


def test_the_test_score_is_written_everywhere(swept: tuple[Path, str, Path]) -> None:
    runs, stdout, _ = swept
    test = json.loads((runs / "shapes" / "sweep.json").read_text())["test"]
    assert test["metric"] == "test_accuracy" and test["images"] == 300
    assert set(test["metrics"]) == {"test_accuracy", "test_loss"}
    # the end-of-sweep summary
    assert f"test: the exported model scored test_accuracy {test['value']:.4f} on 300 " \
           "held-out test images (validation val_accuracy" in stdout
    # status
    status = sweeper("status", "shapes", "--runs-dir", str(runs))
    assert f"test_accuracy {test['value']:.4f} on 300 held-out test images" in status.stdout
    # results: beside the score, on the best trial's row only
    records = json.loads(sweeper("results", "shapes", "--runs-dir", str(runs),
                                 "--format", "json").stdout)
    assert records[0]["trial_id"] == test["trial_id"]
    assert records[0]["test_score"] == test["value"]
    assert records[0]["score"] == test["validation_value"]
    assert all(r["test_score"] is None for r in records[1:])
    # export: the provenance block
    exported = runs.parent / "best.yaml"
    out = sweeper("export", "shapes", "--runs-dir", str(runs), "-o", str(exported))
    assert out.returncode == 0, out.stderr
    assert f"test split: test_accuracy {test['value']:.4f} on 300 held-out images" in out.stdout
    provenance = yaml.safe_load(exported.read_text())["provenance"]
    assert provenance["test_score"] == test["value"] and provenance["test_images"] == 300
    # the Python API, and compare
    api_test = sweeper_api.load("shapes", runs_dir=runs).test
    assert api_test is not None and api_test.value == test["value"]
    compared = json.loads(sweeper("compare", "shapes", "--runs-dir", str(runs),
                                  "--format", "json").stdout)
    assert compared[0]["test"] == pytest.approx(test["value"])
    # MLflow: the parent run and the best trial's run
    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("shapes")
    assert experiment is not None
    runs_found = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs_found if r.data.tags["sweeper.role"] == "sweep")
    best = next(r for r in runs_found if r.data.tags.get("sweeper.trial_id") == test["trial_id"])
    for run in (parent, best):
        assert run.data.metrics["test_accuracy"] == pytest.approx(test["value"])
        assert run.data.tags["sweeper.test_images"] == "300"


def test_the_exported_model_scores_on_unseen_images_what_it_scored_in_validation(
        swept: tuple[Path, str, Path]) -> None:
    import keras

    runs, _, path = swept
    test = json.loads((runs / "shapes" / "sweep.json").read_text())["test"]
    data = load_dataset(spec_module.load(path))
    model = keras.models.load_model(runs / "shapes" / "best_model.keras")
    predicted = model.predict(data.x_test.astype("float32"), verbose=0).argmax(axis=1)
    assert float((predicted == data.y_test).mean()) == pytest.approx(test["value"], abs=1e-3)
    assert test["validation_value"] >= 0.8  # the defaults learn this folder
    assert abs(test["value"] - test["validation_value"]) <= 0.03, test
