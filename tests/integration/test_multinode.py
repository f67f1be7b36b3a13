"""A head and two worker nodes (Ray's cluster_utils) with token auth: trials on both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sweeper.recorder import read_table
from tests.conftest import sweeper, write_space

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SPACE = """\
data: {source: digits}
budget: {trials: 4, max_epochs: 2}
search: {algorithm: random, seed: 0}
scheduler: {kind: fifo}
resources: {cpus_per_trial: 1, concurrency: 2}
space:
  learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
  filters: 8
  dense_units: 0
"""


def start_cluster() -> tuple[subprocess.Popen[str], dict[str, object]]:
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.cluster_helper", "2"], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, env=env,
        cwd=Path(__file__).resolve().parents[2])
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


@pytest.fixture(scope="module")
def cluster(ray_token: str) -> Iterator[dict[str, object]]:
    process, info = start_cluster()
    try:
        yield info
    finally:
        process.terminate()
        process.wait(timeout=120)


def test_trials_run_on_both_worker_nodes(tmp_path: Path, cluster: dict[str, object]) -> None:
    path = write_space(tmp_path, "multinode", SPACE)
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address",
                     str(cluster["address"]), "--storage", str(tmp_path / "shared"))
    assert result.returncode == 0, result.stdout + result.stderr
    trials = read_table(runs / "multinode" / "trials.csv")
    assert len(trials) == 4 and (trials["status"] == "completed").all()
    used = set(trials["node_id"])
    assert used <= set(cluster["workers"])  # type: ignore[arg-type]
    assert len(used) == 2
    assert (tmp_path / "shared" / "multinode").is_dir()  # checkpoints on the shared storage


def test_multi_node_without_shared_storage_is_refused(tmp_path: Path,
                                                      cluster: dict[str, object]) -> None:
    path = write_space(tmp_path, "local-storage", SPACE)
    result = sweeper("run", str(path), "--runs-dir", str(tmp_path / "runs"), "--address",
                     str(cluster["address"]), timeout=180)
    assert result.returncode == 2
    assert "several nodes" in result.stderr and "--storage" in result.stderr


def test_the_cluster_requires_the_token(tmp_path: Path, cluster: dict[str, object]) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
           "RAY_AUTH_MODE": "disabled"}
    path = write_space(tmp_path, "no-auth", SPACE)
    result = sweeper("run", str(path), "--runs-dir", str(tmp_path / "runs"), "--address",
                     str(cluster["address"]), "--storage", str(tmp_path / "s"), env=env,
                     timeout=180)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "token authentication" in result.stderr and "RAY_AUTH_TOKEN" in result.stderr


def test_a_node_removed_mid_sweep_has_its_trials_retried_elsewhere(
        tmp_path: Path, ray_token: str) -> None:
    process, info = start_cluster()
    try:
        body = SPACE.replace("source: digits", "source: mnist5k").replace(
            "max_epochs: 2", "max_epochs: 4") + "failures: {max_failures: 2}\n"
        path = write_space(tmp_path, "node-loss", body)
        runs = tmp_path / "runs"
        sweep = subprocess.Popen(
            [sys.executable, "-m", "sweeper", "run", str(path), "--runs-dir", str(runs),
             "--address", str(info["address"]), "--storage", str(tmp_path / "shared")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        history = runs / "node-loss" / "history.csv"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            frame = read_table(history)
            if not frame.empty and frame["trial_id"].nunique() >= 2:
                break
            time.sleep(0.3)
        process.send_signal(signal.SIGUSR1)  # the second worker node dies mid-sweep
        out, err = sweep.communicate(timeout=600)
        assert sweep.returncode == 0, out + err
        trials = read_table(runs / "node-loss" / "trials.csv")
        assert len(trials) == 4 and (trials["status"] == "completed").all()
        rows = read_table(history)
        assert rows["resumed_from_epoch"].notna().any()  # a trial restarted from a checkpoint
        restarted = rows.loc[rows["resumed_from_epoch"].notna(), "trial_id"]
        workers: list[str] = info["workers"]  # type: ignore[assignment]
        survivor = workers[0]
        on_survivor = trials.set_index("trial_id").loc[restarted, "node_id"]
        assert (on_survivor == survivor).all()  # retried on the node that is left
    finally:
        process.terminate()
        process.wait(timeout=120)
