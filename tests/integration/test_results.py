"""After a sweep: tables in every format, plots, export, retraining, compare, Python API."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

import sweeper as sweeper_api
from sweeper import config as spec_module
from sweeper.store.tables import is_param_column, read_table
from tests.conftest import sweeper, write_space

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SPACE = """\
data: {source: digits, validation_split: 0.25, seed: 1}
budget: {trials: 5, max_epochs: 3}
search: {algorithm: tpe, seed: 4}
scheduler: {kind: asha, grace_period: 1, reduction_factor: 2}
early_stopping: {patience: 2}
resources: {concurrency: 2}
space:
  optimizer: {choice: [adam, rmsprop]}
  learning_rate: {float: [3.0e-3, 2.0e-2], log: true}
  filters: {choice: [8, 16]}
  batch_norm: {choice: [true, false]}
  head: flatten
  dense_units: 32
  dropout: 0.1
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, ray_head: str) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("results")
    path = write_space(folder, "results-space", SPACE)
    runs = folder / "runs"
    # named on the command line, as `make demo` does: every reader must use that name
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head,
                     "--name", "finished")
    assert result.returncode == 0, result.stdout + result.stderr
    return runs, folder


def results(runs: Path, *args: str) -> str:
    out = sweeper("results", "finished", "--runs-dir", str(runs), *args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_results_in_every_format(swept: tuple[Path, Path]) -> None:
    runs, _ = swept
    trials = read_table(runs / "finished" / "trials.csv")
    records = json.loads(results(runs, "--format", "json"))
    assert len(records) == len(trials) == 5
    assert records[0]["score"] == trials["score"].max()  # best first
    frame = pd.read_csv(io.StringIO(results(runs, "--format", "csv")))
    assert list(frame.columns) == list(trials.columns)
    markdown = results(runs, "--format", "markdown").strip().splitlines()
    assert all(line.startswith("|") and line.endswith("|") for line in markdown)
    assert set(markdown[1].replace("|", "").replace(":", "").replace(" ", "")) == {"-"}
    assert len(markdown) == 2 + len(trials)
    history = json.loads(results(runs, "--history", "--format", "json"))
    assert len(history) == len(read_table(runs / "finished" / "history.csv"))
    top = json.loads(results(runs, "--format", "json", "--top", "2", "--sort", "number"))
    assert [r["number"] for r in top] == [0, 1]
    table = results(runs)
    assert "trial_id" in table and "score" in table


def test_plots_are_pngs_and_reach_mlflow(swept: tuple[Path, Path]) -> None:
    runs, _ = swept
    out = sweeper("results", "finished", "--runs-dir", str(runs), "--plots")
    assert out.returncode == 0, out.stderr
    plots = sorted((runs / "finished" / "plots").glob("*.png"))
    assert {p.stem for p in plots} == {"optimization_history", "parallel_coordinates",
                                      "param_importances", "learning_curves",
                                      "objective_vs_params"}
    for plot in plots:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(plot) as image:
            image.verify()
        with Image.open(plot) as image:
            assert image.width > 300 and image.height > 200
            assert len(set(image.convert("L").getdata())) > 5  # something is drawn
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("finished")
    assert experiment is not None
    parent = client.search_runs([experiment.experiment_id],
                                filter_string="tags.`sweeper.role` = 'sweep'")[0]
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert {f"plots/{p.name}" for p in plots} <= logged


def test_export_round_trip_and_retraining(swept: tuple[Path, Path]) -> None:
    runs, folder = swept
    best_yaml, best_keras = folder / "out" / "best.yaml", folder / "out" / "best.keras"
    out = sweeper("export", "finished", "--runs-dir", str(runs), "-o", str(best_yaml),
                  "--model", str(best_keras))
    assert out.returncode == 0, out.stderr
    best = json.loads(results(runs, "--format", "json"))[0]
    exported = yaml.safe_load(best_yaml.read_text())
    sampled = {k[len("param_"):]: v for k, v in best.items()
               if is_param_column(k) and v is not None}  # param_count is the model's size
    assert exported["space"] == sampled  # the exported values are the best row's
    provenance = exported["provenance"]
    assert provenance["trial_id"] == best["trial_id"]
    assert provenance["objective"] == pytest.approx(best["score"])
    assert provenance["training_seed"] == best["seed"]
    assert set(provenance["versions"]) >= {"sweeper", "tensorflow", "keras"}
    assert sweeper("validate", str(best_yaml)).returncode == 0

    # the exported model scores the validation data as the sweep reported
    import keras

    from sweeper.data.dataset import load_dataset

    model = keras.models.load_model(best_keras)
    data = load_dataset(spec_module.load(best_yaml))
    _, accuracy = model.evaluate(data.x_val.astype("float32"), data.y_val, verbose=0)
    assert accuracy == pytest.approx(best["score"], abs=1e-3)

    # retraining with the recorded training seed reaches the trial's score
    retrained = folder / "out" / "retrained.keras"
    out = sweeper("train", str(best_yaml), "--output", str(retrained), "--quiet")
    assert out.returncode == 0, out.stderr
    report = json.loads(retrained.with_suffix(".json").read_text())
    assert report["seed"] == best["seed"]
    assert report["data_fingerprint"] == provenance["data_fingerprint"]
    assert report["objective"] == pytest.approx(best["score"], abs=0.03)


def test_retraining_with_several_seeds_reports_mean_and_std(swept: tuple[Path, Path]) -> None:
    runs, folder = swept
    best_yaml = folder / "seeds" / "best.yaml"
    assert sweeper("export", "finished", "--runs-dir", str(runs), "-o",
                   str(best_yaml)).returncode == 0
    output = folder / "seeds" / "model.keras"
    out = sweeper("train", str(best_yaml), "--seeds", "3", "--epochs", "2", "--output",
                  str(output), "--quiet")
    assert out.returncode == 0, out.stderr
    summary = json.loads(output.with_suffix(".seeds.json").read_text())
    values = [run["objective"] for run in summary["runs"]]
    assert [run["seed"] for run in summary["runs"]] == [summary["runs"][0]["seed"] + i
                                                        for i in range(3)]
    assert summary["mean"] == pytest.approx(sum(values) / 3)
    assert "over 3 seeds: mean" in out.stdout and "std" in out.stdout
    assert all(p.exists() for p in output.parent.glob("model*.keras"))


def test_python_api_and_compare(swept: tuple[Path, Path], ray_head: str) -> None:
    runs, _ = swept
    finished = sweeper_api.load("finished", runs_dir=runs)
    assert len(finished.trials) == 5 and not finished.history.empty
    best = finished.best()
    assert best is not None and best["score"] == finished.trials["score"].max()
    raw = yaml.safe_load(SPACE)
    raw["budget"]["trials"] = 2
    os.environ["RAY_ADDRESS"] = ray_head
    try:
        second = sweeper_api.run({"name": "second", **raw}, runs_dir=runs, max_epochs=2)
    finally:
        os.environ.pop("RAY_ADDRESS")
    assert len(second.trials) == 2
    out = sweeper("compare", "finished", "second", "--runs-dir", str(runs), "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = {row["sweep"]: row for row in json.loads(out.stdout)}
    assert rows["finished"]["best"] == pytest.approx(best["score"])
    assert rows["finished"]["trials"] == 5 and rows["second"]["trials"] == 2
    assert rows["second"]["epochs"] == int(second.trials["epochs"].sum())
    assert rows["finished"]["to_best_s"] <= rows["finished"]["wall_s"]
