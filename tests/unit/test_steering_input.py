"""Steering commands on sweeps written to disk without training: bad input is one clear line
and exit 2 with nothing changed, a dead driver is named with how to resume, `status --watch`
imports neither Ray nor TensorFlow, and the driver's side applies each request once."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.storages.journal import JournalFileBackend

from sweeper.errors import UserInputError
from sweeper.pruning.budget import SweepBudget
from sweeper.status import DriverState, Reason, StopCause, SweepStatus
from sweeper.store.heartbeat import Heartbeat
from sweeper.store.layout import STUDY_FILE
from sweeper.store.meta import SweepMeta
from sweeper.store.requests import RequestKind, SteeringRequest, read_answer, submit
from tests.conftest import sweeper
from tests.events import PATIENCE_S
from tests.sweep_on_disk import write_finished_sweep, write_sweep

GRID = """name: {name}
data: {{source: digits}}
budget: {{trials: 4, max_epochs: 1}}
search: {{algorithm: grid}}
space:
  optimizer: {{choice: [adam, sgd]}}
"""


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def set_meta(folder: Path, **changes: object) -> None:
    meta = SweepMeta.read(folder)
    for key, value in changes.items():
        setattr(meta, key, value)
    meta.write(folder)


def dead_driver(folder: Path) -> None:
    """A driver of this machine whose process is gone (a SIGKILLed `sweeper run`)."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    Heartbeat("d" * 12, int(gone.stdout), socket.gethostname(), time.time(), time.time(),
              1.0).write(folder)


def grid_sweep(runs: Path, name: str, tried: int) -> Path:
    folder = write_finished_sweep(runs, name, GRID.format(name=name))
    set_meta(folder, steerable=True)
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / STUDY_FILE)))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for value in ["adam", "sgd"][:tried]:
        study.add_trial(optuna.trial.create_trial(
            params={"optimizer": value},
            distributions={"optimizer": CategoricalDistribution(["adam", "sgd"])},
            value=0.5))
    return folder


def test_an_unknown_name_and_a_sweep_not_running_are_refused(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    folder = write_sweep(runs, "done")
    before = snapshot(folder)
    for args in (["stop", "nope"], ["extend", "nope", "--trials", "2"],
                 ["status", "nope", "--watch"]):
        result = sweeper(*args, "--runs-dir", str(runs))
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            "error: no sweep named 'nope' in " + str(runs) + "; sweeps there: done"]
    result = sweeper("stop", "done", "--runs-dir", str(runs))
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: cannot stop it: sweep 'done' is not running "
                                     "(it finished)")
    assert snapshot(folder) == before


@pytest.mark.parametrize("amount", [["--trials", "0"], ["--trials", "-2"],
                                    ["--time-limit", "0s"], []])
def test_a_zero_negative_or_missing_extension_is_refused(tmp_path: Path,
                                                         amount: list[str]) -> None:
    runs = tmp_path / "runs"
    folder = write_sweep(runs, "done")
    set_meta(folder, steerable=True)
    before = snapshot(folder)
    result = sweeper("extend", "done", *amount, "--runs-dir", str(runs))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]  # after argparse's usage lines, if any
    assert "error" in last and ("at least 1" in last or "above zero" in last
                                or "--trials N" in last), last
    assert snapshot(folder) == before


def test_the_api_refuses_a_zero_extension_too(tmp_path: Path) -> None:
    import sweeper as api

    runs = tmp_path / "runs"
    folder = write_sweep(runs, "done")
    set_meta(folder, steerable=True)
    before = snapshot(folder)
    with pytest.raises(UserInputError, match="above 0"):
        api.extend("done", trials=0, runs_dir=runs)
    assert snapshot(folder) == before


def test_extending_an_exhausted_grid_says_so(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    folder = grid_sweep(runs, "grid", tried=2)
    before = snapshot(folder)
    result = sweeper("extend", "grid", "--trials", "1", "--runs-dir", str(runs))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the search space is exhausted" in result.stderr
    assert snapshot(folder) == before
    half = grid_sweep(runs, "half", tried=1)
    result = sweeper("extend", "half", "--trials", "2", "--runs-dir", str(runs))
    assert result.returncode == 2 and "at most 1 more (--trials 1)" in result.stderr
    assert "Traceback" not in result.stderr and half.exists()


def test_a_failed_sweep_or_one_an_older_sweeper_started_is_not_extended(
        tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    failed = write_sweep(runs, "failed")
    set_meta(failed, steerable=True, status=SweepStatus.FAILED)
    result = sweeper("extend", "failed", "--trials", "2", "--runs-dir", str(runs))
    assert result.returncode == 2 and "sweep 'failed' failed" in result.stderr
    write_sweep(runs, "old")  # no steerable flag: written before sweeps could be steered
    result = sweeper("extend", "old", "--trials", "2", "--runs-dir", str(runs))
    assert result.returncode == 2 and "older version of sweeper" in result.stderr


def test_a_dead_driver_is_named_with_how_to_resume(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    folder = write_sweep(runs, "crashed")
    set_meta(folder, steerable=True, status=SweepStatus.RUNNING)
    dead_driver(folder)
    before = snapshot(folder)
    status = sweeper("status", "crashed", "--runs-dir", str(runs))
    assert status.returncode == 0
    assert status.stdout.startswith("sweep crashed: crashed")
    assert "driver: DEAD" in status.stdout and "`sweeper resume crashed`" in status.stdout
    stop = sweeper("stop", "crashed", "--runs-dir", str(runs))
    assert stop.returncode == 2
    assert "its driver is dead" in stop.stderr and "sweeper resume crashed" in stop.stderr
    listed = sweeper("list", "--runs-dir", str(runs), "--format", "json")
    assert [(r["name"], r["status"]) for r in json.loads(listed.stdout)] == [
        ("crashed", "crashed")]
    assert snapshot(folder) == before  # no request was left for a later driver


def test_watch_imports_neither_ray_nor_tensorflow_and_ends_with_the_sweep(
        tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    folder = write_sweep(runs, "live")
    set_meta(folder, steerable=True, status=SweepStatus.RUNNING)
    beat = Heartbeat("a" * 12, os.getpid(), socket.gethostname(), time.time(), time.time(),
                     1.0)
    beat.write(folder)
    beating = threading.Event()

    def keep_beating() -> None:  # the driver's thread, while the watch starts up
        while not beating.wait(0.5):
            beat.beat().write(folder)

    threading.Thread(target=keep_beating, daemon=True).start()
    probe = ("import sys; from sweeper.cli import main; rc = main(['status', 'live', "
             f"'--watch', '--every', '0.2', '--runs-dir', {str(runs)!r}]); "
             "print(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'ray', 'tensorflow', 'keras'})); sys.exit(rc)")
    log = tmp_path / "watch.log"
    with log.open("w") as sink:
        watch = subprocess.Popen([sys.executable, "-c", probe], stdout=sink,
                                 stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + PATIENCE_S
        while "driver: alive" not in log.read_text() and time.monotonic() < deadline:
            assert watch.poll() is None, log.read_text()  # still watching a running sweep
            time.sleep(0.2)
        set_meta(folder, status=SweepStatus.FINISHED)
        beating.set()
        watch.wait(timeout=PATIENCE_S)
    out = err = log.read_text()
    assert watch.returncode == 0, out + err
    assert "sweep live: running" in out and "driver: alive" in out
    assert out.rstrip().splitlines()[-2:] == ["sweep live finished", "[]"]


def test_heartbeat_states() -> None:
    now = time.time()
    host = socket.gethostname()
    fresh = Heartbeat("x" * 12, os.getpid(), host, now, now, 5.0)
    assert fresh.state(now) == DriverState.ALIVE
    assert fresh.state(now + 31) == DriverState.DEAD  # stale
    elsewhere = Heartbeat("x" * 12, 1, "another-host", now, now, 5.0)
    assert elsewhere.state(now + 10) == DriverState.ALIVE  # no pid check off this machine
    from sweeper.status import DriverPhase

    assert fresh.beat(DriverPhase.EXITED).state() == DriverState.DEAD


class _Searcher:
    """What Steering reads of the Optuna searcher: the trials out and started."""

    def __init__(self, issued: int) -> None:
        self.issued, self.live = issued, {"a": 0}


class _Tracker:
    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []

    def emit(self, event: dict[str, object]) -> None:
        self.events.append(event)


class _Beat:
    driver_id = "b" * 12

    def set_phase(self, phase: object) -> None:
        pass


def steering(tmp_path: Path, grid: int | None = None) -> tuple[object, SweepBudget, Path]:
    from sweeper.driver.steering import Steering
    from sweeper.notify import LogNotifier
    from sweeper.objective import Objective

    folder = write_sweep(tmp_path / "runs", "steered")
    set_meta(folder, steerable=True, status=SweepStatus.RUNNING)
    budget = SweepBudget(None, trials=4)
    steer = Steering(folder, budget, _Searcher(3), _Tracker(),  # type: ignore[arg-type]
                     Objective.of("val_accuracy", "max"), None, grid)
    steer.attach(SweepMeta.read(folder), LogNotifier(), _Beat())  # type: ignore[arg-type]
    return steer, budget, folder


def ask(steer: object, folder: Path, request: SteeringRequest) -> tuple[bool, str]:
    submit(folder, request)
    steer.on_step_begin(0, [])  # type: ignore[attr-defined]
    steer._last_poll = 0.0  # type: ignore[attr-defined]
    answer = read_answer(folder, request.id)
    assert answer is not None
    return answer.applied, answer.message


def test_the_driver_applies_each_request_once_and_durably(tmp_path: Path) -> None:
    steer, budget, folder = steering(tmp_path)
    extend = SteeringRequest.new(RequestKind.EXTEND, _Beat.driver_id, trials=3, time_s=60)
    assert ask(steer, folder, extend)[0]
    assert budget.trials == 7 and budget.time_limit_s is not None
    meta = SweepMeta.read(folder)
    assert meta.trial_budget == 7 and meta.applied_requests == [extend.id]
    assert ask(steer, folder, extend) == (True, "already applied")  # a resubmitted one
    assert SweepMeta.read(folder).trial_budget == 7
    other = SteeringRequest.new(RequestKind.STOP, "c" * 12)  # for a driver that died
    applied, message = ask(steer, folder, other)
    assert not applied and "earlier driver" in message and budget.closed is None
    stop = SteeringRequest.new(RequestKind.STOP, _Beat.driver_id)
    assert ask(steer, folder, stop)[0] and budget.closed == StopCause.USER
    assert budget.over() is None  # running trials go on
    refused = ask(steer, folder, SteeringRequest.new(RequestKind.EXTEND, _Beat.driver_id, 1))
    assert refused[0] is False and "stopping" in refused[1]
    assert ask(steer, folder, SteeringRequest.new(RequestKind.STOP_NOW, _Beat.driver_id))[0]
    assert budget.over() == Reason.STOPPED_BY_USER
    assert SweepMeta.read(folder).stop_cause == StopCause.USER_NOW


def test_a_restored_driver_takes_its_budget_from_sweep_json(tmp_path: Path) -> None:
    steer, budget, folder = steering(tmp_path, grid=6)
    refused = ask(steer, folder, SteeringRequest.new(RequestKind.EXTEND, _Beat.driver_id, 3))
    assert not refused[0] and "at most 2 more" in refused[1]
    meta = SweepMeta.read(folder)
    meta.trial_budget, meta.stop_cause = 9, None
    steer.attach(meta, None, _Beat())  # type: ignore[attr-defined, arg-type]
    budget.close(StopCause.USER)  # what Tune's older saved state held
    steer.setup()  # type: ignore[attr-defined]
    assert budget.trials == 9 and budget.closed is None


def test_stop_withdraws_its_request_when_the_driver_dies(tmp_path: Path) -> None:
    from sweeper.control.steer import ask_driver
    from sweeper.store.sweep_view import SweepView

    runs = tmp_path / "runs"
    folder = write_sweep(runs, "dying")
    set_meta(folder, steerable=True, status=SweepStatus.RUNNING)
    Heartbeat("e" * 12, os.getpid(), socket.gethostname(), time.time(), time.time(),
              1.0).write(folder)
    view = SweepView.of(folder)
    threading.Timer(0.5, lambda: dead_driver(folder)).start()
    with pytest.raises(UserInputError, match="lost its driver"):
        ask_driver(view, SteeringRequest.new(RequestKind.STOP, "e" * 12), wait_s=10)
    assert not list((folder / "requests").glob("*.request.json"))


def test_a_second_driver_of_a_running_sweep_is_refused(tmp_path: Path) -> None:
    """Two drivers would run every trial twice: resume, extend-as-driver and run of a
    sweep whose driver is alive are bad input, naming the driver."""
    runs = tmp_path / "runs"
    folder = write_sweep(runs, "busy")
    set_meta(folder, steerable=True, status=SweepStatus.RUNNING)
    Heartbeat("f" * 12, os.getpid(), socket.gethostname(), time.time(), time.time(),
              1.0).write(folder)
    before = snapshot(folder)
    result = sweeper("resume", "busy", "--runs-dir", str(runs))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"sweep 'busy' is running (driver pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(folder) == before


def test_a_file_that_is_no_request_is_answered_not_applied(tmp_path: Path) -> None:
    """A malformed request (another tool's file, wrong types) never reaches the budget and
    never raises inside Tune's loop."""
    steer, budget, folder = steering(tmp_path)
    (folder / "requests").mkdir(exist_ok=True)
    bad = {"id": "x1", "kind": "extend", "driver_id": _Beat.driver_id, "at": 0.0,
           "trials": "3", "time_s": None}
    (folder / "requests" / "00000000000000000001-x1.request.json").write_text(json.dumps(bad))
    steer.on_step_begin(0, [])  # type: ignore[attr-defined]
    answer = read_answer(folder, "x1")
    assert answer is not None and not answer.applied and "ignored" in answer.message
    assert budget.trials == 4 and not list((folder / "requests").glob("*.request.json"))


def test_a_trial_waiting_to_start_at_a_stop_is_taken_back(tmp_path: Path) -> None:
    """It never trained: no row, no told value; Optuna holds it as an orphan (FAIL, which
    no sampler learns from) and asks its values first if the sweep is extended."""
    from optuna.trial import TrialState
    from ray.tune.schedulers import FIFOScheduler

    from sweeper.config.load import loads
    from sweeper.observe.recorder import SweepRecorder
    from sweeper.pruning.decisions import DecisionLog
    from sweeper.pruning.schedulers import RecordingScheduler
    from sweeper.search.searcher import OptunaSearcher
    from tests.unit.test_engine_parts import _Controller, _Trial

    spec = loads("budget: {trials: 4, max_epochs: 2}\n"
                 "space: {learning_rate: {float: [0.001, 0.01]}}\n").spec
    log = DecisionLog(tmp_path / "decisions.jsonl")
    budget = SweepBudget(None)
    searcher = OptunaSearcher(spec, tmp_path / "study.journal", 4, False, log, None,
                              lambda *_: None, budget)
    config = searcher.suggest("waiting")
    assert config is not None and searcher.issued == 1
    scheduler = RecordingScheduler(FIFOScheduler(), log, 2, "fifo", searcher, budget)
    recorder = SweepRecorder(tmp_path, log, ["learning_rate"], time.time(), 3, budget)
    scheduler.started = recorder.has_row  # as the wiring does
    retried = _Trial("retried", None)  # PENDING again: Tune requeued it after a lost worker
    retried.config = {"number": 9, "params": {}}
    recorder.on_trial_start(0, [], retried)  # type: ignore[arg-type]
    waiting = _Trial("waiting", None)  # PENDING, never started
    controller = _Controller([retried, waiting])
    budget.close(StopCause.USER)
    assert scheduler.choose_trial_to_run(controller) is None
    assert controller.stopped == [waiting] and log.withdrawn("waiting")
    assert not log.withdrawn("retried")  # it started: it runs to its end
    assert searcher.issued == 0 and not searcher.accepts_trials()
    states = [t.state for t in searcher.study.trials]
    assert states == [TrialState.FAIL, TrialState.WAITING]  # the orphan, asked again next
    assert searcher.study.trials[1].params == config["params"] or \
        searcher.study.trials[1].system_attrs["fixed_params"] == config["params"]
    recorder.on_trial_complete(0, [], waiting)  # type: ignore[arg-type]
    assert list(recorder.rows) == ["retried"]  # no row for the one taken back


def test_an_extended_end_logs_a_changed_best_model_beside_the_first() -> None:
    """A version registered at an earlier end keeps its file: a later end whose best
    changed logs under model-<end>/, one whose best is the same logs none again."""
    from sweeper.driver.finish import _model_folder

    meta = SweepMeta(name="m", source_file="f", base_dir=".", spec_sha256="0", overrides={},
                     experiment_path="e", started_at=0.0)
    first = type("Best", (), {"trial_id": "t1"})()
    assert _model_folder(meta, first) == "model"  # type: ignore[arg-type]
    meta.ends, meta.model_artifact, meta.model_trial_id = 1, "model/best_model.keras", "t1"
    assert _model_folder(meta, first) is None  # type: ignore[arg-type]
    assert _model_folder(meta, type("Best", (), {"trial_id": "t9"})()) == "model-1"  # type: ignore[arg-type]


def test_an_ended_sweeps_time_extension_counts_from_the_time_restored(tmp_path: Path) -> None:
    steer, budget, folder = steering(tmp_path)
    budget.spent_before_s = 3600.0  # what Tune's saved state says the sweep ran
    meta = SweepMeta.read(folder)
    meta.pending_time_s = 600.0  # `sweeper extend NAME --time-limit 10m`, as it ended
    steer.attach(meta, None, _Beat())  # type: ignore[attr-defined, arg-type]
    steer.setup()  # type: ignore[attr-defined]
    assert budget.time_limit_s == pytest.approx(4200.0, abs=5)
    on_disk = SweepMeta.read(folder)
    assert on_disk.pending_time_s is None
    assert on_disk.overrides["time_limit"] == pytest.approx(4200.0, abs=5)
    steer.sync()  # a later restore of the same driver's record adds nothing again
    assert budget.time_limit_s == pytest.approx(4200.0, abs=5)


def test_a_request_applied_before_its_driver_died_is_reported_applied(tmp_path: Path) -> None:
    from sweeper.control.steer import ask_driver
    from sweeper.store.sweep_view import SweepView

    runs = tmp_path / "runs"
    folder = write_sweep(runs, "applied")
    request = SteeringRequest.new(RequestKind.STOP, "e" * 12)
    set_meta(folder, steerable=True, status=SweepStatus.RUNNING,
             applied_requests=[request.id], stop_cause=StopCause.USER)
    Heartbeat("e" * 12, os.getpid(), socket.gethostname(), time.time(), time.time(),
              1.0).write(folder)
    view = SweepView.of(folder)
    dead_driver(folder)  # it died after sweep.json said so, before it answered
    asked = ask_driver(view, request, wait_s=10)
    assert asked.answer is not None and asked.answer.applied
    assert asked.message() == "already applied"
