"""Steering real sweeps from a second process: `sweeper stop` (and --now), `sweeper extend`
of a running and of an ended sweep, `status --watch`, and budget.target. Each sweep's
driver is a `sweeper run` subprocess on the shared Ray head; the commands run as a user
types them in another terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from sweeper.store.study import open_study
from sweeper.store.tables import read_table
from tests.conftest import sweeper, write_space
from tests.events import PATIENCE_S, running_with_epochs, wait_for
from tests.mlflow_checks import assert_sweep_in_mlflow
from tests.optuna_checks import assert_study_matches_trials

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SPACE = """\
data: {source: digits}
budget: {trials: %(trials)d, max_epochs: %(epochs)d%(target)s}
search: {algorithm: tpe, seed: 5}
scheduler: {kind: fifo}
early_stopping: {patience: null}
resources: {cpus_per_trial: 1, concurrency: 2}
space:
  optimizer: {choice: [adam, sgd]}
  learning_rate: {float: [1.0e-3, 3.0e-2], log: true}
  filters: {choice: [4, 8]}
  depth: 1
  dense_units: 0
  batch_size: 128
"""

BEAT = {**os.environ, "SWEEPER_HEARTBEAT_S": "1"}


def space(tmp_path: Path, name: str, trials: int, epochs: int, target: str = "") -> Path:
    return write_space(tmp_path, name, SPACE % {"trials": trials, "epochs": epochs,
                                                "target": target})


def start(path: Path, runs: Path, address: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sweeper", "run", str(path), "--runs-dir", str(runs),
         "--address", address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=BEAT)


def rows(folder: Path) -> pd.DataFrame:
    return read_table(folder / "trials.csv")


def read_lines(process: subprocess.Popen[str]) -> tuple[list[str], threading.Thread]:
    """The lines ``process`` prints, gathered as it prints them."""
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")),
                              daemon=True)
    reader.start()
    return lines, reader


def meta(folder: Path) -> dict[str, object]:
    return dict(json.loads((folder / "sweep.json").read_text()))


def finish(driver: subprocess.Popen[str]) -> str:
    out, err = driver.communicate(timeout=PATIENCE_S)
    assert driver.returncode == 0, out + err
    assert "Traceback" not in err, err
    return out


def assert_records_agree(runs: Path, name: str) -> pd.DataFrame:
    """trials.csv, the Optuna study and MLflow hold the same trials, none left running."""
    folder = runs / name
    trials = rows(folder)
    assert not trials["status"].isin(["running", "paused"]).any(), trials
    assert_study_matches_trials(folder, name, trials)
    assert_sweep_in_mlflow(f"sqlite:///{runs / 'mlflow.db'}", name, trials,
                           read_table(folder / "history.csv"))
    assert (folder / "best_model.keras").exists()
    return trials


def assert_ran_to_their_end(trials: pd.DataFrame) -> None:
    """After a stop: every trial that had started ran to its own end (one still waiting for
    a worker was taken back: no row, an orphan in Optuna)."""
    assert (trials["status"] == "completed").all(), trials


def parent_run(runs: Path, name: str) -> tuple[MlflowClient, object]:
    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    parents = [r for r in client.search_runs([experiment.experiment_id],
                                             run_view_type=ViewType.ALL, max_results=1000)
               if r.data.tags.get("sweeper.role") == "sweep"]
    assert len(parents) == 1, "one MLflow parent run per sweep, extended or not"
    return client, parents[0]


def test_stop_from_a_second_process_lets_running_trials_finish(tmp_path: Path,
                                                               ray_head: str) -> None:
    runs = tmp_path / "runs"
    folder = runs / "halt"
    driver = start(space(tmp_path, "halt", trials=40, epochs=12), runs, ray_head)
    wait_for(lambda: (folder / "trials.csv").exists(), "trials.csv")
    watch = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "status", "halt", "--watch", "--every", "0.5",
         "--runs-dir", str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched_lines, reader = read_lines(watch)
    wait_for(lambda: running_with_epochs(folder / "trials.csv", 2), "2 trials with an epoch")
    wait_for(lambda: any("epoch " in line for line in list(watched_lines)),
             "a frame of the watch showing a running trial's epoch")
    first = sweeper("stop", "halt", "--runs-dir", str(runs), env=BEAT)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "no new trial starts" in first.stdout
    again = sweeper("stop", "halt", "--runs-dir", str(runs), env=BEAT)
    assert again.returncode == 0, again.stdout + again.stderr  # harmless while in effect
    assert "already stopping" in again.stdout
    out = finish(driver)
    assert "stopped by `sweeper stop`" in out and "sweep halt stopped" in out
    assert watch.wait(timeout=PATIENCE_S) == 0
    reader.join(timeout=PATIENCE_S)
    watched = "".join(watched_lines)
    assert "running:" in watched and "epoch " in watched  # a running trial, live
    assert watched.rstrip().endswith("sweep halt stopped")

    record = meta(folder)
    assert record["status"] == "stopped" and record["stop_cause"] == "stop"
    trials = assert_records_agree(runs, "halt")
    assert len(trials) < 40
    assert_ran_to_their_end(trials)
    stop_at = next(h["at"] for h in record["history"] if h.get("request") == "stop")
    assert (trials["started_s"] <= float(stop_at) - float(record["started_at"]) + 1).all()
    status = sweeper("status", "halt", "--runs-dir", str(runs))
    assert status.stdout.startswith("sweep halt: stopped")

    # an ended sweep's extension continues the same sweep: 3 more trials, one parent run
    before = trials
    extended = sweeper("extend", "halt", "--trials", "3", "--runs-dir", str(runs),
                       "--address", ray_head, env=BEAT)
    assert extended.returncode == 0, extended.stdout + extended.stderr
    after = assert_records_agree(runs, "halt")
    assert len(after) == len(before) + 3
    new = after[~after["trial_id"].isin(before["trial_id"])]
    assert new["number"].min() > before["number"].max()  # numbered after the old ones
    assert meta(folder)["status"] == "finished"
    client, parent = parent_run(runs, "halt")
    steps = sorted(m.step for m in client.get_metric_history(parent.info.run_id,
                                                              "trials_completed"))
    assert steps == [0, 1]  # the summary of each end, at its own step


def test_stop_now_ends_running_trials_as_stopped_by_user(tmp_path: Path,
                                                        ray_head: str) -> None:
    runs = tmp_path / "runs"
    folder = runs / "now"
    driver = start(space(tmp_path, "now", trials=6, epochs=60), runs, ray_head)
    wait_for(lambda: running_with_epochs(folder / "trials.csv", 2, 2),
             "2 trials with 2 epochs each")
    # the same from Python, in a process of its own (so its imports are its own)
    probe = ("import sys, sweeper; print(sweeper.stop('now', now=True, wait=True, "
             f"runs_dir={str(runs)!r})); print(sorted({{m.split('.')[0] for m in "
             "sys.modules} & {'ray', 'tensorflow', 'keras'}))")
    api = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=PATIENCE_S)
    assert api.returncode == 0, api.stdout + api.stderr
    message, imported = api.stdout.strip().splitlines()[-2:]
    assert "stopping now" in message and message.endswith("the sweep stopped")
    assert imported == "[]"
    finish(driver)
    trials = assert_records_agree(runs, "now")
    ended = trials[trials["reason"] == "stopped_by_user"]
    assert len(ended) >= 2 and (ended["status"] == "pruned").all()
    assert (ended["epochs"] < 60).all()
    study = open_study(folder, "now")
    states = {t.user_attrs.get("tune_trial_id"): t.state.name for t in study.trials}
    assert all(states[trial_id] == "PRUNED" for trial_id in ended["trial_id"])
    assert meta(folder)["status"] == "stopped"


def test_extend_a_running_sweep_then_the_finished_sweep(tmp_path: Path,
                                                        ray_head: str) -> None:
    runs = tmp_path / "runs"
    folder = runs / "grown"
    driver = start(space(tmp_path, "grown", trials=3, epochs=20), runs, ray_head)
    wait_for(lambda: running_with_epochs(folder / "trials.csv", 1), "a trial with an epoch")
    grown = sweeper("extend", "grown", "--trials", "2", "--runs-dir", str(runs), env=BEAT)
    assert grown.returncode == 0, grown.stdout + grown.stderr
    assert "5 trials in all" in grown.stdout
    out = finish(driver)
    assert "sweep grown finished: 5 completed" in out
    assert len(assert_records_agree(runs, "grown")) == 5
    _, parent = parent_run(runs, "grown")
    assert parent.data.tags["sweeper.planned_trials"] == "5"

    again = sweeper("extend", "grown", "--trials", "3", "--runs-dir", str(runs),
                    "--address", ray_head, env=BEAT)
    assert again.returncode == 0, again.stdout + again.stderr
    trials = assert_records_agree(runs, "grown")
    assert len(trials) == 8 and trials["number"].is_unique  # exactly 3 more
    listed = sweeper("list", "--runs-dir", str(runs), "--format", "json")
    assert json.loads(listed.stdout)[0]["status"] == "finished"
    assert json.loads(listed.stdout)[0]["trials"] == 8


def test_a_reached_target_ends_the_sweep_like_a_stop(tmp_path: Path, ray_head: str) -> None:
    runs = tmp_path / "runs"
    path = space(tmp_path, "target", trials=30, epochs=3, target=", target: 0.5")
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reached the target" in result.stdout
    trials = assert_records_agree(runs, "target")
    assert len(trials) < 30 and (trials["score"] >= 0.5).any()
    assert_ran_to_their_end(trials)
    record = meta(runs / "target")
    assert record["status"] == "finished" and record["stop_cause"] == "target"
