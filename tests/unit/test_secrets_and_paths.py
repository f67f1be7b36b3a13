"""Secrets never reach MLflow; output paths and names are checked before work; a builder's
folder never shadows a library; a dict run resolves paths against the current directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sweeper.api import load_spec
from sweeper.errors import UserInputError
from sweeper.observe.tracking.config import redact
from sweeper.store.layout import SWEEP_JSON
from tests.events import PATIENCE_S
from tests.sweep_on_disk import BEST_NUMBER, write_sweep

SECRET = "s3cr3t-4711"


@pytest.mark.parametrize("text", [
    f"s3://bucket/prefix?secret_key={SECRET}",
    f"s3://bucket?region=eu&SECRET_KEY={SECRET}&x=1",
    f"https://host/api?token={SECRET}",
    f"https://host/api?Access_Token={SECRET}#frag",
    f"s3://b?access_key=AKIA&aws_secret_access_key={SECRET}",
    f"https://h/o?X-Amz-Credential=AKIA%2F{SECRET}&X-Amz-Signature={SECRET}",
    f"https://acct.blob.core.windows.net/c?sv=2024&sig={SECRET}",
    f"postgresql://u@h/db?password={SECRET}",
    f"mysql://h/db;pwd={SECRET}",
    f"https://user:{SECRET}@host:5000/x",
    f"s3://user:p@ss{SECRET}@bucket/x",  # a password holding '@': split at the last '@'
    f"https://user:{SECRET}@@host",
    f"HTTPS://USER:{SECRET}@HOST",
    f'tracking: {{uri: "https://h/?apikey={SECRET}"}}',
])
def test_redact_removes_every_credential(text: str) -> None:
    redacted = redact(text)
    assert SECRET not in redacted
    assert "***" in redacted


@pytest.mark.parametrize(("text", "expected"), [
    ("s3://user:p@ss@bucket/x", "s3://***@bucket/x"),
    ("s3://b?secret_key=abc&region=eu", "s3://b?secret_key=***&region=eu"),
    ('uri: "https://h/?Token=abc"  # note', 'uri: "https://h/?Token=***"  # note'),
    ("https://host/path?email=a@b.com&page=2", "https://host/path?email=a@b.com&page=2"),
    ("mail me at user@example.com", "mail me at user@example.com"),
    ("sqlite:////tmp/runs/mlflow.db", "sqlite:////tmp/runs/mlflow.db"),
])
def test_redact_keeps_what_is_not_secret(text: str, expected: str) -> None:
    assert redact(text) == expected


class _FakeClient:
    """What MlflowStore sends to MLflow, kept instead of sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def get_run(self, run_id: str) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(data=SimpleNamespace(params={}))

    def log_batch(self, run_id: str, metrics: Any = (), params: Any = (),
                  tags: Any = ()) -> None:
        self.sent += [str(item.value) for item in [*params, *tags]]

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self.sent.append(text)

    def update_run(self, run_id: str, status: str) -> None:
        pass

    def set_terminated(self, run_id: str, status: str) -> None:
        pass


def test_params_tags_and_errors_are_redacted_before_mlflow(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from sweeper.observe.tracking import store as store_module
    from sweeper.observe.tracking.config import TrackingConfig
    from sweeper.observe.tracking.events import EventKind
    from sweeper.status import Reason, Status

    fake = _FakeClient()
    monkeypatch.setattr(store_module, "client", lambda config: fake)
    store = store_module.MlflowStore(TrackingConfig("sqlite:///x.db", "e", None), "s")
    store.parent = "parent"
    store.runs["t1"] = "run1"
    uri = f"s3://u:p@w{SECRET}@b/d?token={SECRET}"
    store.apply({"kind": EventKind.SWEEP_START, "spec_hash": "h", "planned": 1,
                 "spec_text": f"storage: {uri}\n"})
    store.apply({"kind": EventKind.TRIAL_INFO, "trial_id": "t1", "params": {"data": uri},
                 "tags": {"sweeper.node_id": uri}})
    store.apply({"kind": EventKind.TRIAL_END, "trial_id": "t1", "status": Status.FAILED.value,
                 "reason": Reason.ERROR.value, "params": {"where": uri},
                 "tags": {"sweeper.error": uri}, "error": f"OSError: {uri}"})
    assert len(fake.sent) >= 5
    assert not [text for text in fake.sent if SECRET in text]


# ---- 13: sweeper train --output, sweeper export's name and overrides ----

FIXED = """\
data: {source: digits}
budget: {trials: 1, max_epochs: 1}
space: {depth: 1, filters: 4, dense_units: 0}
"""


def test_train_output_without_keras_suffix_fails_before_training(tmp_path: Path) -> None:
    space = tmp_path / "fixed.yaml"
    space.write_text(FIXED)
    result = subprocess.run(
        [sys.executable, "-m", "sweeper", "train", str(space), "--output",
         str(tmp_path / "model"), "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=PATIENCE_S, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "--output" in result.stderr and ".keras" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Epoch" not in result.stdout + result.stderr  # nothing trained
    assert not list(tmp_path.glob("model*"))


def test_train_checks_its_output_before_loading_data(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from sweeper.driver import train as train_module

    space = tmp_path / "fixed.yaml"
    space.write_text(FIXED)
    loaded = load_spec(space)

    def no_data(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the data was loaded before the output was checked")

    monkeypatch.setattr(train_module, "load_dataset", no_data)
    for output in ("model", "model.pt", "model.keras.bak", "MODEL.KERAS"):
        with pytest.raises(UserInputError, match=r"\.keras"):
            train_module.train(loaded, epochs=1, output=tmp_path / output, seed=0)
        with pytest.raises(UserInputError, match=r"\.keras"):
            train_module.train_seeds(loaded, epochs=1, output=tmp_path / output,
                                     first_seed=0, count=2)
    train_module.check_output(tmp_path / "model.keras")
    train_module.check_output(tmp_path / "legacy.h5")


def test_export_of_a_long_named_sweep_validates(tmp_path: Path) -> None:
    from sweeper.config.schema import NAME_MAX_LENGTH
    from sweeper.report.export import export

    runs = tmp_path / "runs"
    name = "a" * NAME_MAX_LENGTH
    write_sweep(runs, name)
    output = tmp_path / "best.yaml"
    document = export(name, runs, output)
    assert len(document["name"]) <= NAME_MAX_LENGTH
    assert document["name"].endswith(f"-trial-{BEST_NUMBER}")
    assert load_spec(output).spec.name == document["name"]


def test_export_carries_the_sweeps_command_line_overrides(tmp_path: Path) -> None:
    from sweeper.report.export import export

    runs = tmp_path / "runs"
    folder = write_sweep(runs, "overridden")
    meta = json.loads((folder / SWEEP_JSON).read_text())
    meta["overrides"] = {"max_epochs": 7, "gpus_per_trial": 0.5, "cpus_per_trial": 2.0,
                         "concurrency": 3, "time_limit": 600.0, "trials": 9, "seed": 5}
    (folder / SWEEP_JSON).write_text(json.dumps(meta))
    output = tmp_path / "best.yaml"
    export("overridden", runs, output)
    spec = load_spec(output).spec
    assert spec.budget.max_epochs == 7  # the file said 3
    assert spec.budget.time_limit == 600.0
    assert spec.budget.trials == 1
    assert spec.resources.gpus_per_trial == 0.5
    assert spec.resources.cpus_per_trial == 2.0
    assert spec.resources.concurrency == 3


def test_export_without_overrides_keeps_the_files_sections(tmp_path: Path) -> None:
    from sweeper.report.export import export

    runs = tmp_path / "runs"
    write_sweep(runs, "plain")
    document = export("plain", runs, tmp_path / "best.yaml")
    assert document["budget"] == {"trials": 1, "max_epochs": 3}
    assert "resources" not in document


# ---- 14: a builder's folder never shadows a library; sweeper.run(dict) paths ----

BUILDER = """\
import keras  # the real one, though a keras.py lies beside this file
import yaml

import stray_helper_14  # a neighbour still imports

KERAS_FILE = keras.__file__
YAML_FILE = yaml.__file__


def build(params, input_shape, num_classes):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))
"""

PROBE = """\
import os, sys
sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]  # as the `sweeper` script
from sweeper.api import load_spec
from sweeper.models.kinds import resolve_kind
resolve_kind(load_spec(sys.argv[1]))
import keras, yaml
module = sys.modules["builder_beside_14"]
print(module.KERAS_FILE)
print(module.YAML_FILE)
print(keras.__file__)
print(yaml.__file__)
"""


def test_a_stray_keras_or_yaml_beside_a_builder_never_shadows_the_library(
        tmp_path: Path) -> None:
    project, cwd = tmp_path / "project", tmp_path / "cwd"
    project.mkdir()
    cwd.mkdir()
    for folder in (project, cwd):
        for stray in ("keras", "yaml"):
            (folder / f"{stray}.py").write_text(
                f"raise ImportError('the stray {stray}.py in {folder.name} was imported')\n")
    (project / "builder_beside_14.py").write_text(BUILDER)
    (project / "stray_helper_14.py").write_text("VALUE = 1\n")
    space = project / "space.yaml"
    space.write_text("data: {source: digits}\nmodel: {kind: 'builder_beside_14:build'}\n"
                     "space: {learning_rate: 0.01}\n")
    result = subprocess.run([sys.executable, "-c", PROBE, str(space)],
                            capture_output=True, text=True, timeout=PATIENCE_S, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    files = result.stdout.split()[-4:]
    assert len(files) == 4
    for file in files:
        assert not file.startswith(str(tmp_path)), files


def test_run_with_a_dict_resolves_paths_against_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sweeper.api
    from sweeper.driver import engine

    work = tmp_path / "notebook"
    (work / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(work / "data" / "tiny.npz", x=rng.integers(0, 255, (20, 8, 8, 1)),
             y=np.arange(20) % 2)
    monkeypatch.chdir(work)
    seen: dict[str, Any] = {}

    def fake_run(loaded: Any, overrides: Any, runs_dir: Path, address: Any,
                 **kwargs: Any) -> Any:
        from types import SimpleNamespace

        seen["file"] = Path(loaded.doc.file)
        seen["file_existed"] = seen["file"].is_file()
        seen["data"] = loaded.data_path()
        write_sweep(runs_dir, "dicted")
        return SimpleNamespace(name="dicted")

    monkeypatch.setattr(engine, "run_sweep", fake_run)
    sweep = sweeper.api.run({"name": "dicted", "data": {"source": "npz",
                                                        "path": "data/tiny.npz"},
                             "budget": {"trials": 1, "max_epochs": 1},
                             "space": {"depth": 1}}, runs_dir=tmp_path / "runs")
    assert sweep.name == "dicted"
    assert seen["data"].resolve() == (work / "data" / "tiny.npz").resolve()
    assert seen["file_existed"]
    assert not seen["file"].exists()  # the temporary file is gone
    assert not seen["file"].parent.exists()
