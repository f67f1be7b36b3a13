"""A cluster as users run one: `ray start --head`, a second node joined with `ray start
--address`, separate processes with logical GPUs on each, token authentication on. Trials
run on both nodes; the second node's processes are killed mid-sweep and every trial still
completes, retried on the head from its last checkpoint on the shared storage. The second
node reads its token as docker/compose*.yaml give it: a secret file (with a trailing newline)
named by RAY_AUTH_TOKEN_PATH, and no ~/.ray/auth_token."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sweeper.store.tables import read_table
from tests.conftest import free_port, write_space
from tests.events import PATIENCE_S
from tests.ray_nodes import RayNode, alive_nodes, wait_for_nodes

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SPACE = """\
data: {source: mnist5k}
budget: {trials: 4, max_epochs: 8}
search: {algorithm: random, seed: 3}
scheduler: {kind: fifo}
early_stopping: {patience: null}
failures: {max_failures: 2}
resources: {cpus_per_trial: 1, gpus_per_trial: 1}
space:
  learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
  filters: 8
  dense_units: 0
"""

@pytest.fixture
def two_nodes(ray_token: str, tmp_path: Path) -> Iterator[tuple[str, RayNode, dict[str, str]]]:
    """(address, the second node, {"head": node id, "worker": node id})."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    head = RayNode("--head", f"--port={port}", f"--ray-client-server-port={free_port()}",
                   "--num-cpus=1", "--num-gpus=2", "--include-dashboard=false")
    worker: RayNode | None = None
    try:
        head_id = str(wait_for_nodes(address, 1)[0]["id"])
        secret = tmp_path / "secrets" / "ray_token"
        secret.parent.mkdir()
        secret.write_text(ray_token + "\n")  # as `openssl rand -hex 32 > ray_token` writes it
        home = tmp_path / "worker-home"  # no ~/.ray/auth_token there
        home.mkdir()
        worker = RayNode(f"--address={address}", "--num-cpus=1", "--num-gpus=2",
                         env={"RAY_AUTH_TOKEN_PATH": str(secret), "HOME": str(home)})
        nodes = wait_for_nodes(address, 2)
        assert all(n["gpus"] == 2 for n in nodes)
        worker_id = next(str(n["id"]) for n in nodes if n["id"] != head_id)
        yield address, worker, {"head": head_id, "worker": worker_id}
    finally:
        if worker is not None:
            worker.stop()
        head.stop()


def test_trials_run_on_both_nodes_and_survive_losing_one(
        tmp_path: Path, two_nodes: tuple[str, RayNode, dict[str, str]]) -> None:
    address, worker, ids = two_nodes
    path = write_space(tmp_path, "two-nodes", SPACE)
    runs = tmp_path / "runs"
    sweep = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "run", str(path), "--runs-dir", str(runs),
         "--address", address, "--storage", str(tmp_path / "shared")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    history = runs / "two-nodes" / "history.csv"
    trials_csv = runs / "two-nodes" / "trials.csv"
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline and sweep.poll() is None:
        frame = read_table(trials_csv)
        if "node_id" in frame and ((frame["node_id"] == ids["worker"])
                                & (frame["status"] == "running")
                                & frame["epochs"].fillna(0).astype(int).between(2, 5)).any():
            # a trial on the second node has a checkpoint to be retried from: Tune saves an
            # epoch's checkpoint in a task after the epoch's result (which the table shows
            # first), and schedules the next epoch only once that save is in, so a second
            # epoch's result means the first epoch's checkpoint is registered. At most 5 of
            # its 8 epochs: the table is written every 2 s, and a trial killed after its last
            # epoch has nothing left to resume (its retry ends at once, reporting nothing)
            break
        time.sleep(0.3)
    assert sweep.poll() is None, "the sweep ended before the second node could be killed"
    worker.kill()  # the second machine dies: raylet, its workers, everything it started
    out, err = sweep.communicate(timeout=PATIENCE_S)
    assert sweep.returncode == 0, out + err
    assert "Traceback" not in err, err
    assert "lost its worker" in out and "retrying from its last checkpoint" in out

    trials = read_table(trials_csv)
    assert len(trials) == 4 and (trials["status"] == "completed").all()
    assert set(trials["node_id"]) <= {ids["head"], ids["worker"]}
    assert (trials["gpu_ids"].astype(str).str.len() > 0).all()  # each trial held a GPU
    rows = read_table(history)
    assert rows["resumed_from_epoch"].notna().any()  # a trial restarted from its checkpoint
    restarted = set(rows.loc[rows["resumed_from_epoch"].notna(), "trial_id"])
    assert (trials.set_index("trial_id").loc[sorted(restarted), "node_id"] == ids["head"]).all()
    assert (tmp_path / "shared" / "two-nodes").is_dir()  # checkpoints on the shared storage


def test_stopping_a_test_cluster_leaves_the_users_own_ray_running(ray_token: str,
                                                                  users_ray: str) -> None:
    """The shared ray_head fixture stops its head as RayNode.stop does: that one `ray
    start` and everything it started, and not (as `ray stop --force` did) a user's own
    cluster on the same machine (the session's stand-in for one, which the session's end
    checks again, with its record)."""
    tests_port = free_port()
    tests = RayNode("--head", f"--port={tests_port}", f"--ray-client-server-port={free_port()}",
                    "--num-cpus=1", "--include-dashboard=false")
    wait_for_nodes(f"127.0.0.1:{tests_port}", 1)
    assert tests.session()
    tests.stop()
    assert not tests.session()  # every process of the test's cluster is gone
    with socket.socket() as probe:  # nothing listens on its GCS port any more
        assert probe.connect_ex(("127.0.0.1", tests_port)) != 0
    assert len(alive_nodes(users_ray)) == 1  # the user's is not
