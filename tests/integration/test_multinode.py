"""A head and two worker nodes (Ray's cluster_utils) with token auth: trials on both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sweeper.store.tables import read_table
from tests.conftest import sweeper, without_ray_settings, write_space
from tests.events import PATIENCE_S

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
        process.wait(timeout=PATIENCE_S)


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
                     str(cluster["address"]), timeout=PATIENCE_S)
    assert result.returncode == 2
    assert "several nodes" in result.stderr and "--storage" in result.stderr


def test_the_cluster_requires_the_token(tmp_path: Path, cluster: dict[str, object]) -> None:
    env = {**without_ray_settings(),
           "RAY_AUTH_MODE": "disabled"}
    path = write_space(tmp_path, "no-auth", SPACE)
    result = sweeper("run", str(path), "--runs-dir", str(tmp_path / "runs"), "--address",
                     str(cluster["address"]), "--storage", str(tmp_path / "s"), env=env,
                     timeout=PATIENCE_S)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "token authentication" in result.stderr and "RAY_AUTH_TOKEN" in result.stderr
