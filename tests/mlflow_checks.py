"""What a user checks in MLflow after a sweep, as assertions (shared by several tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import ViewType

from sweeper.store.tables import is_param_column
from tests.events import PATIENCE_S

RUN_STATUS = {"completed": "FINISHED", "stopped_early": "FINISHED", "pruned": "KILLED",
              "failed": "FAILED", "infeasible": "FAILED"}


def assert_sweep_in_mlflow(uri: str, name: str, trials: pd.DataFrame,
                           history: pd.DataFrame) -> None:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], run_view_type=ViewType.ACTIVE_ONLY,
                              max_results=10000)
    parents = [r for r in runs if r.data.tags.get("sweeper.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("sweeper.role") == "trial"]
    assert len(parents) == 1 and len(runs) == 1 + len(trials)
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    by_trial = {r.data.tags["sweeper.trial_id"]: r for r in children}
    assert set(by_trial) == set(trials["trial_id"])
    for row in trials.itertuples():
        run = by_trial[row.trial_id]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["sweeper.status"] == row.status
        assert run.info.status == RUN_STATUS[row.status], (row.status, run.info.status)
        for column in trials.columns:
            value = getattr(row, column)
            if is_param_column(column) and pd.notna(value):
                logged = run.data.params[column[len("param_"):]]
                assert logged == str(value) or float(logged) == float(value)
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "objective")]
        assert len(steps) == len(set(steps))  # no duplicate (metric, step) point
        expected = sorted(history.loc[history["trial_id"] == row.trial_id, "epoch"])
        assert sorted(steps) == [int(e) for e in expected]
        if row.status not in ("infeasible", "failed"):
            assert run.data.params["training_seed"] == str(row.seed)
            assert int(run.data.params["param_count"]) == int(row.param_count) > 0
    counts = Counter(trials["status"])
    for status, count in counts.items():
        assert parent.data.metrics[f"trials_{status}"] == count
    scored = trials[trials["status"].isin(["completed", "stopped_early", "pruned"])]
    assert parent.data.metrics["best_score"] == scored["score"].max()
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"sweep.yaml", "trials.csv", "history.csv", "model"} <= artifacts
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "model")] == [
        "model/best_model.keras"]


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1 with a sqlite store, for tests."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MlflowServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{self.folder / 'server.db'}",
             "--artifacts-destination", str(self.folder / "artifacts")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "MLFLOW_TRACKING_URI": "",
                 "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})  # sweeper runs no GenAI jobs
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("mlflow server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=PATIENCE_S)
            self.process = None
