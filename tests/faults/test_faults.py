"""Faults a long sweep must survive, each injected for real: a SIGKILLed driver, a killed
worker, a builder that always fails, an unwritable runs dir, secrets in the environment,
and memory over 100 trials in one reused worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sweeper.store.tables import read_table
from tests.conftest import free_port, sweeper, write_space
from tests.events import PATIENCE_S, completed, running_with_epochs, wait_for
from tests.mlflow_checks import MlflowServer, assert_sweep_in_mlflow
from tests.optuna_checks import assert_study_matches_trials

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.faults]

DIGITS = """\
data: {source: digits}
budget: {trials: %(trials)d, max_epochs: %(epochs)d}
search: {algorithm: random, seed: 9}
scheduler: {kind: fifo}
early_stopping: {patience: null}
failures: {max_failures: 1, max_consecutive_failed: 10}
resources: {cpus_per_trial: 1, concurrency: %(concurrency)d}
space:
  learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
  filters: {choice: [4, 8]}
  dense_units: 0
"""


def start(path: Path, runs: Path, address: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sweeper", "run", str(path), "--runs-dir", str(runs),
         "--address", address, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_driver_then_resume_counts_every_trial_once(tmp_path: Path,
                                                            ray_head: str) -> None:
    path = write_space(tmp_path, "killed", DIGITS % {"trials": 8, "epochs": 3,
                                                     "concurrency": 2})
    runs = tmp_path / "runs"
    driver = start(path, runs, ray_head)
    table = runs / "killed" / "trials.csv"
    # the kill comes with trials done and a trial in flight that has trained
    wait_for(lambda: completed(table) >= 3 and running_with_epochs(table, 1),
             "3 trials completed and one running with an epoch")
    driver.kill()  # SIGKILL: no handler runs, nothing is closed
    driver.communicate(timeout=PATIENCE_S)
    # any terminal sees the dead driver at once (its process is gone), and how to go on
    status = sweeper("status", "killed", "--runs-dir", str(runs))
    assert status.stdout.startswith("sweep killed: crashed"), status.stdout
    assert "driver: DEAD" in status.stdout and "`sweeper resume killed`" in status.stdout
    stop = sweeper("stop", "killed", "--runs-dir", str(runs))
    assert stop.returncode == 2 and "sweeper resume killed" in stop.stderr
    result = sweeper("resume", "killed", "--runs-dir", str(runs), "--address", ray_head)
    assert result.returncode == 0, result.stdout + result.stderr
    trials = read_table(table)
    assert len(trials) == 8 and trials["trial_id"].is_unique
    assert trials["status"].isin(["completed"]).all()
    assert_sweep_in_mlflow(f"sqlite:///{runs / 'mlflow.db'}", "killed", trials,
                           read_table(runs / "killed" / "history.csv"))
    # a trial that ended after Tune's last save is not told to Optuna twice: the study
    # has one COMPLETE trial per row, with the row's score
    assert_study_matches_trials(runs / "killed", "killed", trials)
    assert "Error stopping trial" not in result.stderr


def _kill_worker_and_check_the_restart(tmp_path: Path, ray_head: str, name: str, body: str,
                                       after_epochs: int) -> None:
    """Kill the trial's worker once ``after_epochs`` epochs are in history.csv; the trial
    must restart from the last checkpoint Tune registered, train the rest and end once."""
    path = write_space(tmp_path, name, body)
    runs = tmp_path / "runs"
    driver = start(path, runs, ray_head)
    history = runs / name / "history.csv"
    wait_for(lambda: len(read_table(history)) >= after_epochs,
             f"{after_epochs} epochs in history.csv")
    before = read_table(history)
    pid = int(read_table(runs / name / "trials.csv")["pid"].iloc[0])
    os.kill(pid, signal.SIGKILL)  # the trial's worker process dies mid-epoch
    out, err = driver.communicate(timeout=PATIENCE_S)
    assert driver.returncode == 0, out + err
    trials = read_table(runs / name / "trials.csv")
    assert len(trials) == 1 and trials["status"].iloc[0] == "completed"
    rows = read_table(history)
    restarted = rows[rows["resumed_from_epoch"].notna()]
    assert len(restarted) == 1
    # an epoch's checkpoint is registered once Tune has the next epoch's result (it saves
    # in a task after the result and starts the next epoch only once the save is in), so
    # the restart is from the last checkpoint before the latest epoch seen, or that one's
    checkpointed = before.loc[before["checkpoint_seconds"].notna(), "epoch"].tolist()
    latest = int(before["epoch"].max())
    registered = [e for e in checkpointed if e < latest]
    allowed = {max(registered)} | ({latest} if latest in checkpointed else set())
    assert int(restarted["resumed_from_epoch"].iloc[0]) in allowed, (checkpointed, latest)
    assert restarted["resumed_iterations"].iloc[0] > 0  # optimizer state came back too
    assert int(trials["pid"].iloc[0]) != pid
    assert sorted(rows["epoch"]) == list(range(1, 9))
    assert_sweep_in_mlflow(f"sqlite:///{runs / 'mlflow.db'}", name, trials, rows)


def test_killed_worker_restarts_its_trial_from_the_last_checkpoint(tmp_path: Path,
                                                                   ray_head: str) -> None:
    body = DIGITS.replace("source: digits", "source: mnist5k") % {
        "trials": 1, "epochs": 8, "concurrency": 1}
    _kill_worker_and_check_the_restart(tmp_path, ray_head, "worker", body, after_epochs=3)


def test_a_trial_killed_between_two_checkpoints_redoes_only_the_epochs_after_the_last(
        tmp_path: Path, ray_head: str) -> None:
    # min_delta 0.5: no epoch after the first is a new best, and the interval is long, so
    # epoch 1 is the only checkpoint until the end; the kill comes at epoch 4 or later
    body = (DIGITS.replace("source: digits", "source: mnist5k")
            .replace("early_stopping: {patience: null}",
                     "early_stopping: {patience: null, min_delta: 0.5}")
            .replace("failures: {max_failures: 1, max_consecutive_failed: 10}",
                     "failures: {max_failures: 1, max_consecutive_failed: 10, "
                     "checkpoint_interval: 10m}")) % {"trials": 1, "epochs": 8,
                                                      "concurrency": 1}
    _kill_worker_and_check_the_restart(tmp_path, ray_head, "between", body, after_epochs=4)
    rows = read_table(tmp_path / "runs" / "between" / "history.csv")
    resumed = rows.loc[rows["resumed_from_epoch"].notna(), "resumed_from_epoch"]
    assert resumed.iloc[0] == 1  # epochs 2 and on were trained again
    assert rows.loc[rows["epoch"] == 8, "checkpoint_seconds"].notna().all()  # the end
    assert rows.loc[rows["epoch"].between(2, 7), "checkpoint_seconds"].isna().sum() >= 3


ALWAYS_FAILS = '''
def build(params, input_shape, num_classes):
    raise RuntimeError("this builder never works")
'''


def test_consecutive_failures_stop_the_sweep_with_a_message(tmp_path: Path,
                                                           ray_head: str) -> None:
    (tmp_path / "broken_models.py").write_text(ALWAYS_FAILS)
    path = write_space(tmp_path, "hopeless", """\
        data: {source: digits}
        model: {kind: "broken_models:build"}
        budget: {trials: 20, max_epochs: 2}
        failures: {max_consecutive_failed: 3}
        resources: {concurrency: 1}
        space:
          units: {int: [1, 9]}
        """)
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head,
                     timeout=PATIENCE_S)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stopped after 3 failed trials in a row" in result.stderr
    trials = read_table(runs / "hopeless" / "trials.csv")
    assert 3 <= len(trials) < 20
    failed = trials[trials["status"] == "failed"]
    assert len(failed) >= 3
    assert failed["error"].str.contains("RuntimeError: this builder never works").all()
    # the stop ends every trial through the normal path: none is left running anywhere
    assert trials["ended_s"].notna().all() and trials["status"].isin(
        ["failed", "pruned"]).all(), trials[["status", "reason"]]
    assert_study_matches_trials(runs / "hopeless", "hopeless", trials)
    again = sweeper("resume", "hopeless", "--runs-dir", str(runs), "--address", ray_head)
    assert again.returncode == 1 and "had failed" in again.stderr, again.stdout + again.stderr
    assert len(read_table(runs / "hopeless" / "trials.csv")) == len(trials)  # not run again


def test_time_limit_ends_every_trial_in_flight_as_pruned(tmp_path: Path,
                                                        ray_head: str) -> None:
    # the limit comes once two trials are in flight with an epoch each, whatever the
    # machine's speed: `extend --time-limit 1s` on a sweep with none is a limit one second
    # from now, the same limit (the budget's) that budget.time_limit sets from the start
    path = write_space(tmp_path, "timed", DIGITS % {"trials": 30, "epochs": 300,
                                                    "concurrency": 2})
    runs = tmp_path / "runs"
    table = runs / "timed" / "trials.csv"
    driver = start(path, runs, ray_head)
    try:
        wait_for(lambda: running_with_epochs(table, 2), "2 trials running with an epoch")
        limited = sweeper("extend", "timed", "--time-limit", "1s", "--runs-dir", str(runs))
        assert limited.returncode == 0, limited.stdout + limited.stderr
        out, err = driver.communicate(timeout=PATIENCE_S)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, out + err
    assert "time limit reached" in out
    trials = read_table(table)
    assert 2 <= len(trials) < 30  # the limit came before the trials ran out
    assert (trials["epochs"] < 300).all()  # ... and before any trial's epochs did
    assert trials["ended_s"].notna().all()
    assert trials["status"].isin(["completed", "pruned"]).all(), trials[["status", "reason"]]
    cut = trials[trials["status"] == "pruned"]
    assert len(cut) >= 2 and (cut["reason"] == "time_limit").all()
    assert_study_matches_trials(runs / "timed", "timed", trials)
    assert_sweep_in_mlflow(f"sqlite:///{runs / 'mlflow.db'}", "timed", trials,
                           read_table(runs / "timed" / "history.csv"))


@pytest.mark.parametrize("scheduler", ["{kind: asha, grace_period: 2}",
                                       "{kind: hyperband, reduction_factor: 2}"],
                         ids=["asha", "hyperband"])
def test_a_trial_tune_cannot_place_on_a_reused_worker_is_recorded(tmp_path: Path,
                                                                   scheduler: str) -> None:
    """Tune's reset of a reused worker fails when the previous trial's thread is still
    alive (here forced: a wait of 0 s; ASHA stops each trial at its last epoch and
    HyperBand pauses them, so the thread is still winding down); Tune then ends the new
    trial without a hook. HyperBand would wait for ever for its result to close the
    bracket, unless it is told too."""
    path = write_space(tmp_path, "unplaced", DIGITS.replace(
        "scheduler: {kind: fifo}", f"scheduler: {scheduler}") % {
        "trials": 4, "epochs": 2, "concurrency": 1})
    runs = tmp_path / "runs"
    env = {**os.environ, "TUNE_FUNCTION_THREAD_TIMEOUT_S": "0"}
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", "local",
                     env=env, timeout=PATIENCE_S)
    assert result.returncode == 0, result.stdout + result.stderr
    trials = read_table(runs / "unplaced" / "trials.csv")
    assert len(trials) == 4 and trials["ended_s"].notna().all()
    unplaced = trials[trials["reason"] == "not_placed"]
    assert len(unplaced) >= 1 and (unplaced["status"] == "failed").all()
    assert_study_matches_trials(runs / "unplaced", "unplaced", trials)
    assert "Could not re-use actor" not in result.stderr  # sweeper says it: not_placed
    assert_sweep_in_mlflow(f"sqlite:///{runs / 'mlflow.db'}", "unplaced", trials,
                           read_table(runs / "unplaced" / "history.csv"))


def test_unwritable_runs_dir_is_refused_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = write_space(tmp_path, "nowhere", DIGITS % {"trials": 1, "epochs": 1,
                                                      "concurrency": 1})
    result = sweeper("run", str(path), "--runs-dir", str(blocker / "runs"), timeout=PATIENCE_S)
    assert result.returncode == 2
    assert "cannot write to" in result.stderr and "--runs-dir" in result.stderr
    assert "Traceback" not in result.stderr


def test_secrets_never_reach_mlflow(tmp_path: Path, ray_head: str) -> None:
    secret = "s3cr3t-value-4711"
    path = write_space(tmp_path, "secretive", DIGITS % {"trials": 2, "epochs": 1,
                                                        "concurrency": 2}
                       + f"storage: null  # s3://user:{secret}@bucket would be redacted\n"
                       f"# so would s3://u:p@ss{secret}@b, s3://b?secret_key={secret} and "
                       f"https://h/?X-Amz-Signature={secret}&token={secret}\n")
    runs = tmp_path / "runs"
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": secret, "MLFLOW_TRACKING_TOKEN": secret}
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head,
                     env=env)
    assert result.returncode == 0, result.stderr
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("secretive")
    assert experiment is not None
    for run in client.search_runs([experiment.experiment_id]):
        values = [*run.data.params.values(), *run.data.tags.values()]
        assert not any(secret in str(v) for v in values)
        for artifact in client.list_artifacts(run.info.run_id):
            if artifact.is_dir:
                continue
            local = client.download_artifacts(run.info.run_id, artifact.path, str(tmp_path))
            assert secret.encode() not in Path(local).read_bytes()


RECYCLED = """\
data: {source: digits}
budget: {trials: 6, max_epochs: 1}
search: {algorithm: random, seed: 0}
scheduler: {kind: fifo}
resources: {cpus_per_trial: 1, concurrency: 1, worker_memory_growth_mb: %s}
space:
  learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
  filters: {choice: [4, 8, 16]}
  depth: {int: [1, 2]}
  dense_units: 0
"""


@pytest.mark.parametrize(("bound", "workers"), [("1", "several"), ("null", "one")])
def test_a_worker_is_replaced_only_once_its_memory_grew_past_the_bound(
        tmp_path: Path, ray_head: str, bound: str, workers: str) -> None:
    # 100 trials' growth is measured in benchmarks/memory_flat.py; here the mechanism: a
    # bound of 1 MB retires a worker after nearly every trial, none keeps one worker
    name = f"recycle-{bound}"
    path = write_space(tmp_path, name, RECYCLED % bound)
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head,
                     "--quiet")
    assert result.returncode == 0, result.stderr
    trials = read_table(runs / name / "trials.csv")
    assert len(trials) == 6 and (trials["status"] == "completed").all()
    assert sorted(trials["number"]) == list(range(6))  # none lost, none twice
    assert_study_matches_trials(runs / name, name, trials)
    pids = trials.sort_values("number")["pid"].tolist()
    if workers == "one":
        assert len(set(pids)) == 1
    else:
        # the rule itself: a worker takes another trial while it is within 1 MB of its
        # first epoch's memory, and is replaced once past it
        history = read_table(runs / name / "history.csv").merge(
            trials[["number", "pid"]], on="number").sort_values("number")
        for pid, runs_of_worker in history.groupby("pid"):
            grown = (runs_of_worker["rss_mb"] - runs_of_worker["rss_mb"].iloc[0]).tolist()
            assert all(g <= 1 for g in grown[:-1]), (pid, grown)
            if runs_of_worker["number"].iloc[-1] != 5:  # not the sweep's last trial
                assert grown[-1] > 1, (pid, grown)
        assert len(set(pids)) >= 2, pids
    assert "re-use" not in result.stderr


def test_a_sweep_that_ended_while_mlflow_was_down_is_completed_by_resume(
        tmp_path: Path, ray_head: str) -> None:
    """The documented recovery: the sweep ends with MLflow down (its updates stay in the
    log), MLflow comes back, `sweeper resume NAME` writes them; the end is not run again
    (no second summary, no second model version), however often resume runs."""
    from mlflow import MlflowClient

    server = MlflowServer(tmp_path / "server", free_port()).start()
    path = write_space(tmp_path, "ended-down", DIGITS % {"trials": 3, "epochs": 2,
                                                         "concurrency": 1})
    runs = tmp_path / "runs"
    driver = start(path, runs, ray_head, "--tracking-uri", server.uri,
                   "--register-model", "ended-down-cnn")
    try:
        wait_for(lambda: completed(runs / "ended-down" / "trials.csv") >= 1,
                 "a trial completed")
        server.stop()  # down from here to the sweep's end
        out, err = driver.communicate(timeout=PATIENCE_S)
        assert driver.returncode == 0, out + err
        assert "not written yet" in out and "sweeper resume ended-down" in out
        server.start()
        for _ in range(2):  # the recovery, and a resume too many
            result = sweeper("resume", "ended-down", "--runs-dir", str(runs),
                             "--address", ray_head)
            assert result.returncode == 0, result.stdout + result.stderr
            assert "had already finished" in result.stdout
        folder = runs / "ended-down"
        trials = read_table(folder / "trials.csv")
        assert_sweep_in_mlflow(server.uri, "ended-down", trials,
                               read_table(folder / "history.csv"))
        client = MlflowClient(server.uri)
        assert len(client.search_model_versions("name='ended-down-cnn'")) == 1
        parent = next(r for r in client.search_runs(
            [client.get_experiment_by_name("ended-down").experiment_id])
            if r.data.tags.get("sweeper.role") == "sweep")
        assert len(client.get_metric_history(parent.info.run_id, "trials_completed")) == 1
        assert_study_matches_trials(folder, "ended-down", trials)
    finally:
        if driver.poll() is None:
            driver.kill()
        server.stop()


def test_a_start_that_never_reached_tunes_state_is_not_a_sweep(tmp_path: Path,
                                                              ray_head: str) -> None:
    """Nothing is resumable before Tune writes its state, so nothing may claim the name:
    a start refused (storage that is a file) leaves no sweep.json, and one killed in that
    window (here: the sweep.json such a kill left, naming Tune state that never came) is
    replaced by the next `run`, while `resume` says why it cannot."""
    import json

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    path = write_space(tmp_path, "early", DIGITS % {"trials": 1, "epochs": 1,
                                                    "concurrency": 1})
    runs = tmp_path / "runs"
    refused = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head,
                      "--storage", str(blocker))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "is a file, not a folder" in refused.stderr and "Traceback" not in refused.stderr
    assert not (runs / "early" / "sweep.json").exists()

    (runs / "early").mkdir(parents=True)  # what a kill before Tuner() left behind
    (runs / "early" / "sweep.yaml").write_text(path.read_text())
    (runs / "early" / "sweep.json").write_text(json.dumps({
        "name": "early", "source_file": str(path), "base_dir": str(tmp_path),
        "spec_sha256": "0" * 64, "overrides": {}, "started_at": 0.0,
        "experiment_path": str(runs / "early" / "tune")}))
    (runs / "early" / "tune").mkdir()  # Tuner() ran, Tune's first step never saved
    (runs / "early" / "tune" / "tuner.pkl").write_bytes(b"not reached")
    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.create_study(study_name="early", storage=optuna.storages.JournalStorage(
        JournalFileBackend(str(runs / "early" / "optuna.journal")))).ask()  # left RUNNING
    resumed = sweeper("resume", "early", "--runs-dir", str(runs), "--address", ray_head)
    assert resumed.returncode == 2, resumed.stdout + resumed.stderr
    assert "before Tune saved any state" in resumed.stderr
    assert "Traceback" not in resumed.stderr
    again = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head)
    assert again.returncode == 0, again.stdout + again.stderr
    trials = read_table(runs / "early" / "trials.csv")
    assert len(trials) == 1
    assert_study_matches_trials(runs / "early", "early", trials)  # no stale RUNNING trial


def test_a_failed_trial_stays_failed_across_a_resume(tmp_path: Path, ray_head: str) -> None:
    """A trial whose worker died for good (no retries) was told FAIL and recorded failed;
    resuming the interrupted sweep does not run it again (Tune's resume_errored would)."""
    body = DIGITS.replace("max_failures: 1", "max_failures: 0") % {
        "trials": 3, "epochs": 40, "concurrency": 1}
    path = write_space(tmp_path, "died", body)
    runs = tmp_path / "runs"
    driver = start(path, runs, ray_head)
    table, history = runs / "died" / "trials.csv", runs / "died" / "history.csv"
    try:
        wait_for(lambda: len(read_table(history)) >= 2, "2 epochs in history.csv")
        os.kill(int(read_table(table)["pid"].iloc[0]), signal.SIGKILL)
        wait_for(lambda: (read_table(table)["status"] == "failed").any(), "a failed trial")
        wait_for(lambda: len(read_table(table)) >= 2, "a second trial")
        driver.send_signal(signal.SIGINT)
        out, err = driver.communicate(timeout=PATIENCE_S)
        assert driver.returncode == 130, out + err
    finally:
        if driver.poll() is None:
            driver.kill()
    before = read_table(table).set_index("trial_id")
    lost = before.index[before["status"] == "failed"][0]
    assert before.loc[lost, "reason"] == "worker_died"
    result = sweeper("resume", "died", "--runs-dir", str(runs), "--address", ray_head)
    assert result.returncode == 0, result.stdout + result.stderr
    after = read_table(table).set_index("trial_id")
    assert len(after) == 3
    assert after.loc[lost, "status"] == "failed" and after.loc[lost, "reason"] == "worker_died"
    assert after.loc[lost, "ended_s"] == before.loc[lost, "ended_s"]  # not run again
    assert after.drop(index=lost)["status"].eq("completed").all()
    assert_study_matches_trials(runs / "died", "died", after.reset_index())

