"""A cluster as users run one: `ray start --head`, a second node joined with `ray start
--address`, separate processes with logical GPUs on each, token authentication on. Trials
run on both nodes; the second node's processes are killed mid-sweep and every trial still
completes, retried on the head from its last checkpoint on the shared storage. The second
node reads its token as docker/compose*.yaml give it: a secret file (with a trailing newline)
named by RAY_AUTH_TOKEN_PATH, and no ~/.ray/auth_token."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sweeper.store.tables import read_table
from tests.conftest import RAY, free_port, write_space

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

LIST_NODES = """\
import json, sys, ray
ray.init(address=sys.argv[1], logging_level="ERROR")
print(json.dumps([{"id": n["NodeID"], "head": "node:__internal_head__" in n["Resources"],
                   "gpus": n["Resources"].get("GPU", 0)} for n in ray.nodes() if n["Alive"]]))
"""


class RayNode:
    """One `ray start --block` and everything it starts: one session, as one machine.

    Ray puts each worker process in a process group of its own, so killing the group of
    `ray start` would leave the trials training on as orphans; a machine that dies takes its
    whole session with it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        env = {**os.environ, "RAY_AUTH_MODE": "token", **(env or {})}
        self.process = subprocess.Popen(
            [RAY, "start", *args, "--node-ip-address=127.0.0.1", "--disable-usage-stats",
             "--block"], env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        for pid in self.session():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def session(self) -> list[int]:
        """Every process of this node's session (/proc/PID/stat: session is field 6)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[3]) == self.process.pid:
                    found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        self.kill(signal.SIGKILL)  # what SIGTERM left behind (gcs_server lingers)
        self.process.wait(timeout=20)


def alive_nodes(address: str) -> list[dict[str, object]]:
    result = subprocess.run([sys.executable, "-c", LIST_NODES, address], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "RAY_AUTH_MODE": "token"})
    return json.loads(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else []


def wait_for_nodes(address: str, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        nodes = alive_nodes(address)
        if len(nodes) == count:
            return nodes
        time.sleep(1)
    raise AssertionError(f"the cluster at {address} never had {count} nodes")


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
    deadline = time.monotonic() + 300
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
    out, err = sweep.communicate(timeout=600)
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
