"""MLflow: the embedded store and a real tracking server, checked with MlflowClient."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from sweeper.observe.tracking.config import TrackingConfig
from sweeper.observe.tracking.events import EventKind
from sweeper.observe.tracking.tracker import APPLIED_FILE, SKIPPED_FILE, MlflowTracker
from sweeper.status import Status
from sweeper.store.tables import read_table
from tests.conftest import free_port, sweeper, write_space
from tests.events import PATIENCE_S, wait_for
from tests.mlflow_checks import MlflowServer, assert_sweep_in_mlflow

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SPACE = """\
data: {source: digits}
budget: {trials: %(trials)d, max_epochs: %(epochs)d}
search: {algorithm: random, seed: 5}
scheduler: {kind: asha, grace_period: 1, reduction_factor: 2}
early_stopping: {patience: 2}
resources: {cpus_per_trial: 1, concurrency: 2}
space:
  optimizer: {choice: [adam, sgd]}
  learning_rate: {float: [1.0e-4, 5.0e-2], log: true}
  depth: {int: [1, 3]}
  padding: {choice: [same, valid]}
  kernel_size: 5
  filters: 8
  dense_units: 0
"""


def tracked_sweep(tmp_path: Path, name: str, address: str, *extra: str,
                  trials: int = 6, epochs: int = 3) -> Path:
    path = write_space(tmp_path, name, SPACE % {"trials": trials, "epochs": epochs})
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", address, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return runs / name


def test_embedded_store_holds_one_parent_and_a_child_per_trial(tmp_path: Path,
                                                               ray_head: str) -> None:
    folder = tracked_sweep(tmp_path, "tracked", ray_head, "--register-model", "digits-cnn")
    trials = read_table(folder / "trials.csv")
    assert len(trials) == 6
    uri = f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    assert_sweep_in_mlflow(uri, "tracked", trials, read_table(folder / "history.csv"))
    from mlflow import MlflowClient

    versions = MlflowClient(uri).search_model_versions("name='digits-cnn'")
    assert len(versions) == 1 and versions[0].source.endswith("model/best_model.keras")


def test_unreachable_server_at_start_exits_2_before_training(tmp_path: Path) -> None:
    path = write_space(tmp_path, "nowhere", SPACE % {"trials": 2, "epochs": 1})
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--tracking-uri",
                     f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot be reached" in result.stderr and "nothing was trained" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (runs / "nowhere").exists()


def test_server_down_mid_sweep_catches_up_after_restart(tmp_path: Path,
                                                        ray_head: str) -> None:
    """A sweep on a real tracking server (nothing in the embedded store), whose server dies
    mid-sweep and comes back."""
    port = free_port()
    server = MlflowServer(tmp_path / "server", port).start()
    path = write_space(tmp_path, "outage", SPACE % {"trials": 8, "epochs": 4})
    runs = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "run", str(path), "--runs-dir", str(runs),
         "--address", ray_head, "--tracking-uri", server.uri],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        history = runs / "outage" / "history.csv"
        wait_for(lambda: len(read_table(history)) >= 2, "2 epochs in history.csv")
        server.stop()  # the tracking server dies mid-sweep
        down_at = len(read_table(history))
        wait_for(lambda: len(read_table(history)) >= down_at + 4,
                 "4 more epochs with the server down")
        assert process.poll() is None  # training went on without the server
        server.start()  # ... and comes back on the same port and database
        out, err = process.communicate(timeout=PATIENCE_S)
        assert process.returncode == 0, out + err
    finally:
        if process.poll() is None:
            process.kill()
    folder = runs / "outage"
    try:
        assert_sweep_in_mlflow(server.uri, "outage", read_table(folder / "trials.csv"),
                               read_table(folder / "history.csv"))
        assert not (runs / "mlflow.db").exists()  # nothing in the embedded store
    finally:
        server.stop()


def trial_events(number: int) -> list[dict[str, Any]]:
    trial_id = f"t{number}"
    return [{"kind": EventKind.TRIAL_START, "trial_id": trial_id, "number": number,
             "params": {"lr": 0.1}, "seed": number},
            {"kind": EventKind.EPOCH, "trial_id": trial_id, "step": 1,
             "metrics": {"objective": 0.5}, "timestamp": 1},
            {"kind": EventKind.TRIAL_END, "trial_id": trial_id, "number": number,
             "status": Status.COMPLETED.value, "reason": "", "error": "", "tags": {}}]


def test_an_experiment_deleted_in_the_ui_mid_sweep_is_restored(tmp_path: Path) -> None:
    """MLflow keeps a deleted experiment's name until `mlflow gc`, so the writer restores
    it (and its runs) rather than refusing every later update; the end of the sweep says so."""
    from mlflow import MlflowClient

    server = MlflowServer(tmp_path / "server", free_port()).start()
    try:
        tracker = MlflowTracker(TrackingConfig(server.uri, "deleted", None), "deleted",
                                tmp_path / "deleted", cast(Any, None))
        for event in trial_events(0):
            tracker.emit(event)
        applied = tracker.folder / APPLIED_FILE
        wait_for(lambda: applied.exists() and json.loads(applied.read_text())["applied"] >= 3,
                 "the first trial's 3 events applied")
        client = MlflowClient(server.uri)
        experiment = client.get_experiment_by_name("deleted")
        assert experiment is not None
        client.delete_experiment(experiment.experiment_id)  # as the UI's delete does
        for event in trial_events(1):
            tracker.emit(event)
        assert tracker.close(60) == 0  # today: refused, retried without end
        assert client.get_experiment(experiment.experiment_id).lifecycle_stage == "active"
        runs = client.search_runs([experiment.experiment_id])
        trials = {r.data.tags["sweeper.trial_id"]: r.info.status for r in runs
                  if r.data.tags.get("sweeper.role") == "trial"}
        assert trials == {"t0": "FINISHED", "t1": "FINISHED"}
        assert tracker.restored == experiment.experiment_id and tracker.skipped == 0
        assert "'deleted'" in " ".join(tracker.warnings())
        assert "restored" in " ".join(tracker.warnings())
        assert not (tracker.folder / SKIPPED_FILE).exists()
    finally:
        server.stop()
