"""KerasTuner hypermodels under `sweeper run` on a real Ray head: KerasTuner's own test
hypermodels (tests/kt_peer_models.py, a peer's cases nobody here wrote) and the seed
article's Example 3 (search_spaces/hypermodel.yaml). Their hp names are the trials'
parameters in trials.csv, Optuna and MLflow, and an exported trial trains again."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from sweeper.cli import main
from sweeper.config import loads
from sweeper.data.dataset import load_dataset
from sweeper.store.tables import is_param_column, param_column, read_table
from tests.conftest import sweeper, write_space
from tests.events import PATIENCE_S

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
PEER_HPS = ["num_layers", "units_0", "learning_rate", "units_1", "units_2", "units_3"]


def digits_space(folder: Path, name: str, kind: str, trials: int) -> Path:
    return write_space(folder, name, f"""\
        data: {{source: digits}}
        model: {{kind: "{kind}"}}
        budget: {{trials: {trials}, max_epochs: 1}}
        search: {{algorithm: random, seed: 1}}
        scheduler: {{kind: fifo}}
        early_stopping: {{patience: null}}
        resources: {{cpus_per_trial: 1, concurrency: 2}}
        """)


def run(path: Path, runs: Path, address: str, *extra: str) -> tuple[Path, pd.DataFrame]:
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", address, *extra,
                     cwd=ROOT)  # the peer module is tests.kt_peer_models, from the root
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    name = extra[extra.index("--name") + 1] if "--name" in extra else path.stem
    return runs / name, read_table(runs / name / "trials.csv")


def study_of(folder: Path, name: str) -> optuna.Study:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal")))
    return optuna.load_study(study_name=name, storage=storage)


def assert_params_everywhere(folder: Path, name: str, trials: pd.DataFrame,
                             hps: list[str], fixed: tuple[str, ...] = ()) -> None:
    """trials.csv's param_ columns are the hp names, with what Optuna sampled (every hp
    but those the file fixed)."""
    assert [c for c in trials.columns if is_param_column(c)] == [param_column(n) for n in hps]
    assert set(trials["status"]) == {"completed"}, trials[["status", "reason"]]
    assert all(math.isfinite(s) for s in trials["score"])
    study = {t.number: t.params for t in study_of(folder, name).trials}
    for row in trials.itertuples():
        sampled = study[int(row.number)]
        assert set(sampled) == set(hps) - set(fixed), sampled
        for hp, value in sampled.items():
            assert getattr(row, f"param_{hp}") == pytest.approx(value), (hp, row)


def assert_params_in_mlflow(uri: str, name: str, trials: pd.DataFrame,
                            hps: list[str]) -> None:
    """Each trial's MLflow run logs the hp names with the trial's values."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    runs = {r.data.tags["sweeper.trial_id"]: r for r in client.search_runs(
        [experiment.experiment_id]) if r.data.tags.get("sweeper.role") == "trial"}
    assert set(runs) == set(trials["trial_id"])
    for row in trials.itertuples():
        params = runs[row.trial_id].data.params
        for hp in hps:
            value = getattr(row, param_column(hp))
            assert params[hp] == str(value) or float(params[hp]) == float(value), (hp, row)


def test_kerastuners_own_build_model_sweeps_exports_and_trains(tmp_path: Path,
                                                              ray_head: str) -> None:
    path = digits_space(tmp_path, "peer", "tests.kt_peer_models:build_model", trials=3)
    runs = tmp_path / "runs"
    folder, trials = run(path, runs, ray_head)
    assert len(trials) == 3
    assert_params_everywhere(folder, "peer", trials, PEER_HPS)
    first = trials.sort_values("number").iloc[0]  # KerasTuner's first trial: the defaults
    assert (first.param_num_layers, first.param_units_0, first.param_learning_rate) == \
        (1, 6, 0.01)
    assert_params_in_mlflow(f"sqlite:///{runs / 'mlflow.db'}", "peer", trials, PEER_HPS)
    assert "units_3" in (folder / "discovered_space.yaml").read_text()

    # the recorded space: export (and results) read the sweep without Keras or KerasTuner
    best = tmp_path / "best.yaml"
    probe = ("import sys; from pathlib import Path; from sweeper.report.export import export; "
             f"export('peer', Path({str(runs)!r}), Path({str(best)!r})); "
             "print(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'tensorflow', 'keras', 'keras_tuner'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=PATIENCE_S, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
    exported = yaml.safe_load(best.read_text())
    row = trials.set_index("trial_id").loc[exported["provenance"]["trial_id"]]
    assert exported["space"] == {hp: pytest.approx(row[f"param_{hp}"]) for hp in PEER_HPS}

    trained = sweeper("train", str(best), "--epochs", "1", "--quiet", "--output",
                      str(tmp_path / "best.keras"), cwd=ROOT)  # rebuilt with those values
    assert trained.returncode == 0, trained.stdout + trained.stderr
    record = json.loads((tmp_path / "best.json").read_text())
    assert record["params"] == exported["space"] and math.isfinite(record["objective"])


def test_a_hypermodel_whose_fit_tunes_the_batch_size(tmp_path: Path, ray_head: str) -> None:
    path = digits_space(tmp_path, "batches", "tests.kt_peer_models:BatchSizeHyperModel",
                        trials=2)
    folder, trials = run(path, tmp_path / "runs", ray_head)
    assert_params_everywhere(folder, "batches", trials, [*PEER_HPS, "batch_size"])
    history = read_table(folder / "history.csv").set_index("trial_id")
    train_images = len(load_dataset(loads(path.read_text())).x_train)
    for row in trials.itertuples():
        steps = history.loc[row.trial_id, "optimizer_iterations"]
        assert steps == math.ceil(train_images / row.param_batch_size), row  # fit's batch


def test_seed_example_3_validates_and_runs(tmp_path: Path, ray_head: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    example = ROOT / "search_spaces" / "hypermodel.yaml"
    assert main(["validate", str(example)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for hp in ("conv_1_filter", "conv_1_kernel", "conv_2_filter", "optimizer"):
        assert f"{hp} " in out
    assert "conv_2_kernel │ fixed │ 3 │ │ fixed by the file" in out
    assert "dense_1_units │ int │ [32, 96] step 32 │ │ narrowed by the file" in out
    assert "build(hp) ran on this machine to discover the space" in out
    # Example 3 as the article wrote it: its one hp, the optimizer, is the whole space
    literal = tmp_path / "example3.yaml"
    literal.write_text(example.read_text().split("space:")[0].replace(
        "hypermodel_example:build_tuned_model", "hypermodel_example:build_model"))
    (tmp_path / "hypermodel_example.py").write_text(
        (ROOT / "search_spaces" / "hypermodel_example.py").read_text())
    folder, trials = run(literal, tmp_path / "runs", ray_head, "--trials", "1",
                         "--max-epochs", "1", "--name", "example3")
    assert_params_everywhere(folder, "example3", trials, ["optimizer"], fixed=())
    assert trials.iloc[0].score > 0.5  # one-hot labels for its categorical_crossentropy
