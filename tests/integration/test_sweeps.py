"""Real sweeps on digits against a real Ray head: schedulers, pruners, GPUs, resume.

Pruning decisions are checked against the libraries themselves: ASHA's are replayed through
a fresh Ray AsyncHyperBandScheduler, Optuna's states are read back from the study.
"""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import optuna
import pandas as pd
import pytest

from sweeper.store.tables import read_table
from tests.conftest import sweeper, without_ray_settings, write_space
from tests.events import PATIENCE_S, completed, wait_for
from tests.images import write_shapes
from tests.mlflow_checks import assert_sweep_in_mlflow

pytestmark = [pytest.mark.slow, pytest.mark.integration]

DIGITS_SPACE = """\
data: {source: digits}
budget: {trials: %(trials)d, max_epochs: %(epochs)d}
search: {algorithm: %(algorithm)s, seed: 3}
scheduler: {kind: %(scheduler)s, grace_period: 1, reduction_factor: %(rf)d}
early_stopping: {patience: null}
resources: {cpus_per_trial: %(cpus)s, gpus_per_trial: %(gpus)s%(concurrency)s}
space:
  optimizer: {choice: [adam, sgd]}
  learning_rate: {float: [1.0e-4, 5.0e-2], log: true}
  momentum: {float: [0.0, 0.9], when: {optimizer: sgd}}
  filters: {choice: [4, 8, 16]}
  depth: {int: [1, 2]}
  dense_units: 0
  batch_size: 128
"""


def space(tmp_path: Path, name: str, *, trials: int = 6, epochs: int = 3,
          algorithm: str = "random", scheduler: str = "asha", rf: int = 2, cpus: float = 1,
          gpus: float = 0, concurrency: int | None = 2) -> Path:
    body = DIGITS_SPACE % {
        "trials": trials, "epochs": epochs, "algorithm": algorithm, "scheduler": scheduler,
        "rf": rf, "cpus": cpus, "gpus": gpus,
        "concurrency": f", concurrency: {concurrency}" if concurrency else ""}
    return write_space(tmp_path, name, body)


def run(tmp_path: Path, path: Path, address: str, *extra: str) -> tuple[Path, pd.DataFrame]:
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", address, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    folder = runs / path.stem
    return folder, read_table(folder / "trials.csv")


def decisions(folder: Path) -> list[dict[str, object]]:
    path = folder / "decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def study_of(folder: Path, name: str) -> optuna.Study:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal")))
    return optuna.load_study(study_name=name, storage=storage)


def assert_study_matches_table(study: optuna.Study, trials: pd.DataFrame) -> None:
    """Optuna was told the truth: COMPLETE with the score, PRUNED, FAIL."""
    by_number = {t.number: t for t in study.trials}
    for row in trials.itertuples():
        frozen = by_number[int(row.number)]
        if row.status in ("completed", "stopped_early"):
            assert frozen.state == optuna.trial.TrialState.COMPLETE, row
            assert frozen.value == pytest.approx(row.score)
        elif row.status == "pruned":
            assert frozen.state == optuna.trial.TrialState.PRUNED, row
            assert sorted(frozen.intermediate_values) == list(range(1, int(row.epochs) + 1))
        elif row.status == "failed":
            assert frozen.state == optuna.trial.TrialState.FAIL, row
        elif row.status == "infeasible":
            assert "infeasible" in frozen.user_attrs
        else:
            raise AssertionError(f"trial {row.number} ended as {row.status}")


def replay_asha(history: pd.DataFrame, max_t: int, grace: int, rf: int) -> set[tuple[str, int]]:
    """Feed the recorded epochs, in the driver's order, to a fresh Ray ASHA scheduler."""
    from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler

    asha = AsyncHyperBandScheduler(time_attr="epoch", metric="objective", mode="max",
                                   max_t=max_t, grace_period=grace, reduction_factor=rf)
    trials: dict[str, SimpleNamespace] = {}
    stopped: set[tuple[str, int]] = set()
    for row in history.itertuples():
        trial = trials.get(row.trial_id)
        if trial is None:
            trial = trials[row.trial_id] = SimpleNamespace(trial_id=row.trial_id)
            asha.on_trial_add(None, trial)
        decision = asha.on_trial_result(None, trial, {"epoch": int(row.epoch),
                                                      "objective": float(row.objective)})
        if decision == TrialScheduler.STOP and int(row.epoch) < max_t:
            stopped.add((row.trial_id, int(row.epoch)))
    return stopped


def test_asha_sweep_prunes_as_ray_decides(tmp_path: Path, ray_head: str) -> None:
    path = space(tmp_path, "asha", trials=8, epochs=3, scheduler="asha")
    folder, trials = run(tmp_path, path, ray_head)
    assert len(trials) == 8
    assert set(trials["status"]) <= {"completed", "pruned", "infeasible"}
    pruned = {(d["trial_id"], d["epoch"]) for d in decisions(folder) if d["decision"] == "pruned"}
    assert pruned, "ASHA pruned nothing; the test space should give it bad trials"
    history = read_table(folder / "history.csv")
    assert replay_asha(history, max_t=3, grace=1, rf=2) == pruned
    table_pruned = set(trials.loc[trials["status"] == "pruned", "trial_id"])
    assert table_pruned == {trial_id for trial_id, _ in pruned}
    for trial_id, epoch in pruned:
        assert trials.set_index("trial_id").loc[trial_id, "epochs"] == epoch
    assert_study_matches_table(study_of(folder, "asha"), trials)
    # one history row per epoch run, and scores are each trial's best epoch
    per_trial = history.groupby("trial_id")["objective"]
    for row in trials[trials["status"] != "infeasible"].itertuples():
        assert per_trial.count()[row.trial_id] == row.epochs
        assert row.score == pytest.approx(per_trial.max()[row.trial_id])


def test_hyperband_pauses_and_resumes_from_checkpoints(tmp_path: Path, ray_head: str) -> None:
    path = space(tmp_path, "hyperband", trials=10, epochs=4, scheduler="hyperband", rf=2)
    folder, trials = run(tmp_path, path, ray_head)
    assert len(trials) == 10 and trials["status"].isin(["completed", "pruned"]).all()
    log = decisions(folder)
    paused = {(d["trial_id"], d["epoch"]) for d in log if d["decision"] == "paused"}
    resumed = {(d["trial_id"], d["epoch"]) for d in log if d["decision"] == "resumed"}
    assert paused and resumed and resumed <= paused
    history = read_table(folder / "history.csv")
    for trial_id, epoch in resumed:
        rows = history[history["trial_id"] == trial_id].sort_values("epoch")
        after = rows[rows["epoch"] == epoch + 1].iloc[0]
        assert after["resumed_from_epoch"] == epoch  # restarted at its checkpoint epoch
        assert after["resumed_iterations"] > 0  # with the optimizer's step count intact
        assert after["optimizer_iterations"] > after["resumed_iterations"]
        assert list(rows["epoch"]) == list(range(1, len(rows) + 1))  # no epoch run twice
    assert (trials["status"] == "pruned").any()
    assert_study_matches_table(study_of(folder, "hyperband"), trials)


def test_optuna_pruner_decides_and_study_holds_true_states(tmp_path: Path,
                                                           ray_head: str) -> None:
    path = space(tmp_path, "optuna-median", trials=8, epochs=3, scheduler="optuna_median",
                 algorithm="tpe")
    folder, trials = run(tmp_path, path, ray_head)
    assert len(trials) == 8
    study = study_of(folder, "optuna-median")
    pruned_rows = trials[trials["status"] == "pruned"]
    assert not pruned_rows.empty, "Optuna's MedianPruner pruned nothing in this space"
    logged = {d["trial_id"] for d in decisions(folder) if d["decision"] == "pruned"}
    assert set(pruned_rows["trial_id"]) == logged
    assert all(d["by"] == "optuna_median" for d in decisions(folder))
    assert_study_matches_table(study, trials)
    for row in pruned_rows.itertuples():
        assert median_pruner_agrees(study, int(row.number))


def median_pruner_agrees(study: optuna.Study, number: int) -> bool:
    """Ask Optuna's MedianPruner again, with the trials that had completed by then."""
    target = study.trials[number]
    replay = optuna.create_study(direction=study.direction)
    for frozen in study.trials:
        if frozen.state == optuna.trial.TrialState.COMPLETE and \
                frozen.datetime_complete < target.datetime_complete:
            replay.add_trial(copy.deepcopy(frozen))
    running = copy.deepcopy(target)
    running.state = optuna.trial.TrialState.RUNNING
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1).prune(
        replay, running)


def test_trials_fan_out_over_four_logical_gpus(tmp_path: Path, ray_head: str) -> None:
    path = space(tmp_path, "gpus", trials=4, epochs=2, scheduler="fifo", cpus=0.5, gpus=1,
                 concurrency=None)
    _, trials = run(tmp_path, path, ray_head)
    assert sorted(trials["gpu_ids"].astype(str)) == ["0", "1", "2", "3"]
    assert trials["started_s"].max() < trials["ended_s"].min()  # all four ran at once


def test_half_a_gpu_per_trial_shares_gpus(tmp_path: Path, ray_head: str) -> None:
    path = space(tmp_path, "half-gpus", trials=4, epochs=2, scheduler="fifo", cpus=0.5,
                 gpus=0.5, concurrency=None)
    _, trials = run(tmp_path, path, ray_head)
    shared = trials.groupby(trials["gpu_ids"].astype(str))
    pairs = [g for _, g in shared if len(g) >= 2]
    assert pairs, trials[["gpu_ids", "started_s", "ended_s"]]
    group = pairs[0]
    assert group["started_s"].max() < group["ended_s"].min()  # on one GPU at the same time


def test_more_gpus_than_any_node_exits_2_at_once(tmp_path: Path, ray_head: str) -> None:
    path = space(tmp_path, "too-many", gpus=5)
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head,
                     timeout=PATIENCE_S)
    assert result.returncode == 2
    assert "asks for 5 GPU(s)" in result.stderr and "largest node of the cluster has 4" \
        in result.stderr
    assert "Traceback" not in result.stderr
    assert not (runs / "too-many" / "trials.csv").exists()


@pytest.fixture(scope="module")
def plain_env_sweep(tmp_path_factory: pytest.TempPathFactory,
                    ray_head: str) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """A sweep run with no RAY_ variable but the user's token file: (its file, its runs dir,
    the run). A finished sweep that later tests read (and do not change)."""
    tmp_path = tmp_path_factory.mktemp("plain-env")
    path = space(tmp_path, "plain-env", trials=2, epochs=1, scheduler="fifo")
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head,
                     env=without_ray_settings())
    return path, runs, result


def test_address_works_with_the_users_token_and_no_extra_environment(
        plain_env_sweep: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, runs, result = plain_env_sweep
    assert result.returncode == 0, result.stderr
    assert len(read_table(runs / "plain-env" / "trials.csv")) == 2


def test_a_client_without_the_token_is_refused(tmp_path: Path, ray_head: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**without_ray_settings(),
           "HOME": str(home), "RAY_AUTH_MODE": "token"}
    path = space(tmp_path, "no-token", trials=1, epochs=1)
    result = sweeper("run", str(path), "--runs-dir", str(tmp_path / "runs"),
                     "--address", ray_head, env=env, timeout=PATIENCE_S)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "token" in result.stderr and "RAY_AUTH_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_sweep_resumes_to_exactly_the_requested_trials(
        tmp_path: Path, ray_head: str, sig: signal.Signals, code: int) -> None:
    name = f"resume-{code}"
    path = space(tmp_path, name, trials=6, epochs=3, scheduler="fifo")
    runs = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "run", str(path), "--runs-dir", str(runs),
         "--address", ray_head], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    table = runs / name / "trials.csv"
    wait_for(lambda: completed(table) >= 2, "2 trials completed")
    process.send_signal(sig)
    out, err = process.communicate(timeout=PATIENCE_S)
    assert process.returncode == code, out + err
    assert f"sweeper resume {name}" in err
    assert "Traceback" not in err
    partial = read_table(table)
    assert 2 <= partial["status"].isin(["completed"]).sum() < 6
    uri = f"sqlite:///{runs / 'mlflow.db'}"
    from mlflow import MlflowClient

    open_runs = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name(name).experiment_id],
        filter_string="attributes.status = 'RUNNING'")
    assert open_runs == []  # the interrupt closed every open run (KILLED)
    result = sweeper("resume", name, "--runs-dir", str(runs), "--address", ray_head)
    assert result.returncode == 0, result.stdout + result.stderr
    trials = read_table(table)
    assert len(trials) == 6 and trials["trial_id"].is_unique
    assert (trials["status"] == "completed").all()
    assert_study_matches_table(study_of(runs / name, name), trials)
    assert_sweep_in_mlflow(uri, name, trials, read_table(runs / name / "history.csv"))


def test_resume_refuses_a_changed_file(
        plain_env_sweep: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    path, runs, result = plain_env_sweep
    assert result.returncode == 0, result.stderr
    original = path.read_text()
    path.write_text(original.replace("trials: 2", "trials: 3"))
    try:
        refused = sweeper("resume", "plain-env", "--runs-dir", str(runs))
    finally:
        path.write_text(original)
    assert refused.returncode == 2
    assert "changed since sweep 'plain-env' started" in refused.stderr


def test_the_ray_start_head_requires_the_token(tmp_path: Path, ray_head: str) -> None:
    env = {**without_ray_settings(),
           "RAY_AUTH_MODE": "disabled"}
    path = space(tmp_path, "auth-off-client", trials=1, epochs=1)
    result = sweeper("run", str(path), "--runs-dir", str(tmp_path / "runs"),
                     "--address", ray_head, env=env, timeout=PATIENCE_S)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "token authentication" in result.stderr and "RAY_AUTH_TOKEN" in result.stderr


FAULTY_BUILDER = '''
import keras
import tensorflow as tf


def build(params, input_shape, num_classes):
    mode = params["mode"]
    if mode == "error":
        raise ValueError("builder bug: mode=error")
    if mode == "oom":
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    if mode == "nan":
        x = keras.layers.Rescaling(float("nan"))(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)
'''


def test_failures_end_their_trial_not_the_sweep(tmp_path: Path, ray_head: str) -> None:
    (tmp_path / "faulty_models.py").write_text(FAULTY_BUILDER)
    path = write_space(tmp_path, "faults", """\
        data: {source: digits}
        model: {kind: "faulty_models:build"}
        budget: {max_epochs: 2}
        search: {algorithm: grid}
        scheduler: {kind: fifo}
        resources: {concurrency: 2}
        space:
          mode: {choice: [ok, error, oom, nan]}
          learning_rate: 1.0e-2
        """)
    folder, trials = run(tmp_path, path, ray_head)
    by_mode = trials.set_index("param_mode")
    assert by_mode.loc["ok", "status"] == "completed"
    assert (by_mode.loc["error", "status"], by_mode.loc["error", "reason"]) == ("failed", "error")
    assert "ValueError: builder bug: mode=error" in by_mode.loc["error", "error"]
    assert "faulty_models.py" in by_mode.loc["error", "error"]  # the user's traceback
    assert (by_mode.loc["oom", "status"], by_mode.loc["oom", "reason"]) == ("failed", "oom")
    assert (by_mode.loc["nan", "status"], by_mode.loc["nan", "reason"]) == ("failed",
                                                                            "nan_loss")
    assert by_mode.loc["nan", "epochs"] == 0  # stopped inside its first epoch
    assert "nan_loss" in by_mode.loc["nan", "diagnosis"].split(";")  # and named so
    history = read_table(folder / "history.csv")
    assert history["objective"].notna().all()  # no NaN ever recorded as a result
    assert set(history["trial_id"]) == {by_mode.loc["ok", "trial_id"]}
    assert_study_matches_table(study_of(folder, "faults"), trials)


WORKERS_SPACE = """\
data: {source: directory, path: shapes, image_size: [24, 24], load_on: workers}
budget: {trials: %d, max_epochs: 2}
search: {algorithm: random, seed: 0}
scheduler: {kind: fifo}
resources: {concurrency: 2}
space:
  learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
  filters: 8
  dense_units: 0
  batch_size: 16
"""


def test_workers_load_a_folder_themselves_and_resume_refuses_changed_data(
        tmp_path: Path, ray_head: str) -> None:
    """data.load_on: workers: trials decode the folder themselves, every trial trains. Then
    an image goes: resumed trials would train and be scored on other images than the
    finished ones, so resume refuses."""

    write_shapes(tmp_path / "shapes", per_class=20)
    path = write_space(tmp_path, "on-workers", WORKERS_SPACE % 3)
    folder, trials = run(tmp_path, path, ray_head)
    assert list(trials["status"]) == ["completed"] * 3
    assert (trials["epochs"] == 2).all()
    meta = json.loads((folder / "sweep.json").read_text())
    assert meta["data_fingerprint"]  # what every worker checked its copy against

    (tmp_path / "shapes" / "circle" / "circle_000.png").unlink()
    result = sweeper("resume", "on-workers", "--runs-dir", str(folder.parent))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the data of sweep 'on-workers' changed since it started" in result.stderr
    assert "Traceback" not in result.stderr


def test_workers_that_see_other_files_fail_with_the_reason(tmp_path: Path,
                                                           ray_head: str) -> None:
    """A folder that changes after the driver read it (as a stale mount on one node would)
    fails the trials that read the other files, with the reason; nothing trains on them."""

    write_shapes(tmp_path / "shapes", per_class=20)
    path = write_space(tmp_path, "stale-mount", WORKERS_SPACE % 2)
    runs = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "run", str(path), "--runs-dir", str(runs),
         "--address", ray_head], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    meta = runs / "stale-mount" / "sweep.json"
    deadline = time.monotonic() + PATIENCE_S
    while not meta.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert meta.exists(), "the driver never read the data"
    write_shapes(tmp_path / "shapes", per_class=20, seed=1)  # other pixels, same names
    stdout, stderr = process.communicate(timeout=PATIENCE_S)
    assert "Traceback" not in stderr
    trials = read_table(runs / "stale-mount" / "trials.csv")
    assert list(trials["status"]) == ["failed"] * 2, stdout + stderr
    assert trials["error"].str.contains("every node must mount the same files").all()
    assert (trials["epochs"] == 0).all()
    assert stdout.count("differs from what the driver read") == 2  # one line per trial
