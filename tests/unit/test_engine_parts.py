"""The engine's rules that need no cluster: statuses, resources, overrides, GPU caps."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from sweeper import config as spec_module
from sweeper.config import Overrides
from sweeper.driver.cluster import NodeResources, check_resources
from sweeper.errors import UserInputError
from sweeper.objective import Objective
from sweeper.pruning.budget import SweepBudget
from sweeper.pruning.decisions import DecisionEntry, DecisionLog, final_status
from sweeper.result import TrialResult
from sweeper.status import Decision, Reason, Status
from sweeper.store.layout import sweep_folder
from sweeper.trial.process import gpu_memory_limit_mb


def test_final_status_comes_from_recorded_decisions(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "d.jsonl")

    def result(status: Status, reason: Reason = Reason.NONE) -> TrialResult:
        return TrialResult(number=0, seed=0, epoch=2, status=status, reason=reason)

    running = result(Status.RUNNING)
    assert final_status(log, "a", result(Status.COMPLETED)) == (Status.COMPLETED, Reason.NONE)
    assert final_status(log, "a", result(Status.STOPPED_EARLY))[0] == Status.STOPPED_EARLY
    assert final_status(log, "a", result(Status.FAILED, Reason.OOM)) == (
        Status.FAILED, Reason.OOM)
    assert final_status(log, "a", running, Reason.WORKER_DIED) == (Status.FAILED,
                                                                  Reason.WORKER_DIED)
    assert final_status(log, "a", running, Reason.OOM) == (Status.FAILED, Reason.OOM)
    # Tune stopped it and no decision says why: the sweep ended it, not a time limit
    assert final_status(log, "a", running) == (Status.PRUNED, Reason.SWEEP_STOPPED)
    log.record("a", Decision.PRUNED, 2, "asha")
    assert final_status(log, "a", running) == (Status.PRUNED, Reason.SCHEDULER)
    # the sweep's own ends say why, and a trial that finished first keeps its own status
    log.record("a", Decision.ENDED, 2, "sweep", Reason.TIME_LIMIT)
    assert final_status(log, "a", running) == (Status.PRUNED, Reason.TIME_LIMIT)
    assert final_status(log, "a", result(Status.COMPLETED)) == (Status.COMPLETED, Reason.NONE)
    log.record("b", Decision.ENDED, 1, "memory", Reason.OOM)
    assert final_status(log, "b", running) == (Status.FAILED, Reason.OOM)
    assert DecisionLog(tmp_path / "d.jsonl").ended("b") == DecisionEntry(
        "b", Decision.ENDED, 1, "memory", Reason.OOM)


def test_a_worker_ray_killed_for_memory_is_oom_and_any_other_death_is_not() -> None:
    from ray.exceptions import ActorDiedError, OutOfMemoryError

    from sweeper.pruning.decisions import infrastructure_reason

    memory = ("Task was killed due to the node running low on memory.\nMemory on the node "
              "(IP: 10.0.0.1, ID: ab) was 22.1GB used / 23.4GB limit (0.95)")
    assert infrastructure_reason(OutOfMemoryError(memory)) == Reason.OOM
    assert infrastructure_reason(memory) == Reason.OOM  # the text Tune saved, unpickled
    died = ActorDiedError()  # SIGKILL, a node lost
    assert infrastructure_reason(died) == Reason.WORKER_DIED
    # Ray's text for any worker death names the OOM killer as one possible cause: no proof
    generic = ("The actor died unexpectedly before finishing this task. Some common causes "
               "include: (1) the process was killed by the OOM killer due to high memory usage")
    assert infrastructure_reason(generic) == Reason.WORKER_DIED
    assert infrastructure_reason(None) == Reason.WORKER_DIED


def test_only_allocation_failures_are_oom_not_any_text_with_oom() -> None:
    from sweeper.trial.loop import classify

    assert classify(RuntimeError("OOM when allocating tensor with shape[64,3,3,512]")).reason \
        == Reason.OOM
    assert classify(MemoryError()).reason == Reason.OOM
    assert classify(ValueError("layer 'ZOOM_in' got a bad shape")).reason == Reason.ERROR
    assert classify(KeyError("BLOOM")).reason == Reason.ERROR


def test_decision_log_survives_pickling_and_restarts(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "d.jsonl")
    log.record("t1", Decision.PAUSED, 1, "hyperband")
    log.record("t1", Decision.RESUMED, 1, "hyperband")
    again = pickle.loads(pickle.dumps(log))
    assert again.last("t1") == DecisionEntry(trial_id="t1", decision=Decision.RESUMED, epoch=1,
                                             by="hyperband")
    assert DecisionLog(tmp_path / "d.jsonl").last("t1") == again.last("t1")


def test_resource_check_names_the_numbers() -> None:
    cluster = [NodeResources("a", "10.0.0.1", 8, 2), NodeResources("b", "10.0.0.2", 4, 4)]
    check_resources(2, 4, cluster)
    check_resources(8, 1, cluster)
    with pytest.raises(UserInputError, match=r"asks for 5 GPU\(s\).*largest node of the "
                                             r"cluster has 4 \(2 node\(s\), 6 GPU\(s\) in all\)"):
        check_resources(1, 5, cluster)
    with pytest.raises(UserInputError, match=r"no node has both \(largest: 8 CPUs, 4 GPUs\)"):
        check_resources(8, 4, cluster)
    with pytest.raises(UserInputError, match="no alive node"):
        check_resources(1, 0, [])


def test_overrides_replace_the_files_values() -> None:
    spec = spec_module.loads("budget: {trials: 9, max_epochs: 5}\nsearch: {seed: 4}\n").spec
    changed = Overrides(name="other", trials=2, time_limit=60.0, gpus_per_trial=0.5,
                        seed=7).apply(spec)
    assert changed.name == "other"
    assert (changed.budget.trials, changed.budget.max_epochs) == (2, 5)
    assert changed.budget.time_limit == 60.0
    assert changed.resources.gpus_per_trial == 0.5 and changed.search.seed == 7
    assert Overrides().apply(spec) == spec


def test_gpu_share_caps_memory() -> None:
    assert gpu_memory_limit_mb(0.5, 81920) == 40960
    assert gpu_memory_limit_mb(0.25, 16000) == 4000
    assert gpu_memory_limit_mb(1.0, 81920) is None  # a whole GPU: memory growth instead
    assert gpu_memory_limit_mb(2.0, 81920) is None


def test_early_stopping_state_respects_mode_and_min_delta() -> None:
    maximize, minimize = Objective.of("val_accuracy", "max"), Objective.of("val_loss", "min")
    assert maximize.better(0.5, None, 0.01)
    assert not maximize.better(0.505, 0.5, 0.01) and maximize.better(0.52, 0.5, 0.01)
    assert minimize.better(0.9, 1.0, 0.01) and not minimize.better(0.995, 1.0, 0.01)


def test_sweep_folder_stays_inside_the_runs_dir(tmp_path: Path) -> None:
    assert sweep_folder(tmp_path, "ok-name") == (tmp_path / "ok-name").resolve()
    with pytest.raises(UserInputError, match="outside"):
        sweep_folder(tmp_path, "../escape")


def test_searcher_state_is_written_without_a_temporary_file_in_the_synced_folder(
        tmp_path: Path) -> None:
    from sweeper.search.searcher import OptunaSearcher

    spec = spec_module.loads("budget: {trials: 3, max_epochs: 2}\n").spec
    clock = [100.0]
    budget = SweepBudget(60.0, clock=lambda: clock[0])
    searcher = OptunaSearcher(spec, tmp_path / "study.journal", 3, False,
                              DecisionLog(tmp_path / "decisions.jsonl"), None, lambda *_: None,
                              budget)
    assert searcher.suggest("t0") is not None and searcher.suggest("t1") is not None
    budget.spent_s()
    clock[0] += 45.0  # the first driver ran 45 s of the sweep's 60
    synced = tmp_path / "tune" / "driver_artifacts"
    synced.mkdir(parents=True)
    searcher.save_to_dir(str(synced), "s1")
    assert [p.name for p in synced.iterdir()] == ["searcher-state-s1.pkl"]
    assert not list((tmp_path / "tune").glob("*.tmp"))
    restored = OptunaSearcher(spec, tmp_path / "study.journal", 3, False,
                              DecisionLog(tmp_path / "decisions.jsonl"), None, lambda *_: None,
                              SweepBudget(60.0))
    restored.restore_from_dir(str(synced))
    assert restored.issued == 2
    assert restored.budget.spent_before_s == pytest.approx(45.0)  # a resume has 15 s left


def test_the_budget_ends_on_time_or_on_a_stop_and_can_change_while_it_runs() -> None:
    clock = [0.0]
    budget = SweepBudget(10.0, clock=lambda: clock[0])
    assert budget.over() is None
    clock[0] = 10.0
    assert budget.over() == Reason.TIME_LIMIT
    budget.set_time_limit(30.0)  # extended while it runs
    assert budget.over() is None
    budget.set_time_limit(None)
    clock[0] = 1e6
    assert budget.over() is None
    budget.stop(Reason.SWEEP_STOPPED)
    budget.stop(Reason.TIME_LIMIT)  # the first reason stands
    assert budget.over() == Reason.SWEEP_STOPPED
    with pytest.raises(ValueError, match="positive number of seconds"):
        budget.set_time_limit(float("nan"))
    again = pickle.loads(pickle.dumps(budget))
    assert again.over() == Reason.SWEEP_STOPPED


def test_only_tunes_harmless_sync_race_is_silenced() -> None:
    import logging

    from sweeper.driver.signals import SyncRaceFilter as _SyncRaceFilter

    def record(error: BaseException) -> logging.LogRecord:
        return logging.LogRecord("ray.tune.execution.experiment_state", logging.ERROR, "f", 1,
                                 "Saving experiment state failed", (),
                                 (type(error), error, None))

    race = FileNotFoundError(2, "Failed to open local file '/x/.ab-tmp-searcher-state-1.pkl'")
    assert not _SyncRaceFilter().filter(record(race))
    assert _SyncRaceFilter().filter(record(PermissionError(13, "denied: /bucket/state.json")))
    assert _SyncRaceFilter().filter(record(FileNotFoundError(2, "no such bucket")))


def test_workers_read_the_data_themselves_and_refuse_other_files(tmp_path: Path) -> None:
    """data.load_on: workers ships only the spec; a node seeing other files fails loudly."""
    import numpy as np

    from sweeper.data.dataset import DataMismatchError, WorkerLoadedData, load_dataset

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "images.npz", x=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8),
             y=np.repeat(["cat", "dog"], 20))
    space = tmp_path / "s.yaml"
    space.write_text("data: {source: npz, path: images.npz, load_on: workers}\n")
    loaded = spec_module.load(space)
    driver = load_dataset(loaded)
    shipped = pickle.loads(pickle.dumps(WorkerLoadedData(loaded, driver.fingerprint())))
    WorkerLoadedData._cache.clear()
    first = shipped.load()
    assert first.fingerprint() == driver.fingerprint()
    assert np.array_equal(first.x_val, driver.x_val) and first.class_names == ["cat", "dog"]
    assert shipped.load() is first  # a reused worker keeps its arrays

    # The file on "this node" is not the one the driver read.
    np.savez(tmp_path / "images.npz", x=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8),
             y=np.repeat(["cat", "dog"], 20))
    WorkerLoadedData._cache.clear()
    with pytest.raises(DataMismatchError, match="every node must mount the same files"):
        shipped.load()
    WorkerLoadedData._cache.clear()


def test_a_ray_start_cluster_on_this_machine_is_joined_only_if_it_answers(
        capsys: pytest.CaptureFixture[str]) -> None:
    import socket
    from unittest import mock

    from sweeper.cli.show import PrintNotifier
    from sweeper.driver.cluster import _started_on_this_machine

    with socket.socket() as live:
        live.bind(("127.0.0.1", 0))
        live.listen()
        address = f"127.0.0.1:{live.getsockname()[1]}"
        with mock.patch("ray._private.services.find_bootstrap_address", return_value=address):
            assert _started_on_this_machine(PrintNotifier()) == address
    assert "joining the Ray cluster started on this machine" in capsys.readouterr().out
    with mock.patch("ray._private.services.find_bootstrap_address", return_value=address):
        assert _started_on_this_machine(PrintNotifier()) is None  # the head died without `ray stop`
    assert "does not answer" in capsys.readouterr().out
    with mock.patch("ray._private.services.find_bootstrap_address", return_value=None):
        assert _started_on_this_machine(PrintNotifier()) is None


def test_tune_state_of_an_older_layout_is_bad_input_not_a_traceback() -> None:
    from sweeper.driver.tune_state import readable_tune_state

    def unpickle_old() -> None:
        try:
            raise ModuleNotFoundError("No module named 'sweeper.searcher'",
                                      name="sweeper.searcher")
        except ModuleNotFoundError as exc:
            raise RuntimeError("could not restore the tuner") from exc

    expected = r"cannot resume it: sweep 'old' was started by an older version .*'sweeper.searcher'"
    with pytest.raises(UserInputError, match=expected), readable_tune_state("old", "resume it"):
        unpickle_old()
    with pytest.raises(ModuleNotFoundError), readable_tune_state("old", "resume it"):
        raise ModuleNotFoundError("No module named 'numpyy'", name="numpyy")
    # a module that is still there without a class the state names (the tuner.pkl of a
    # sweep from before issue 13 holds a FailureStopper)
    expected = r"older version .*'FailureStopper in sweeper\.observe\.recorder'"
    with pytest.raises(UserInputError, match=expected), readable_tune_state("old", "resume it"):
        pickle.loads(b"csweeper.observe.recorder\nFailureStopper\n.")


class _Bridge:
    """The searcher side of the scheduler wrapper: nothing to prune, every trial live."""

    def observe(self, *_: object) -> None: ...
    def should_prune(self, trial_id: str) -> bool: return False
    def already_ended(self, trial_id: str) -> bool: return False
    def is_live(self, trial_id: str) -> bool: return True
    def withdraw(self, trial_id: str) -> None: ...


class _Trial:
    """What the recorder and the scheduler wrapper read of a Tune trial."""

    PENDING, RUNNING, PAUSED, ERROR = "PENDING", "RUNNING", "PAUSED", "ERROR"

    def __init__(self, trial_id: str, error: object) -> None:
        self.trial_id, self.status, self.config = trial_id, self.PENDING, {"number": 0}
        self.last_result: dict[str, object] = {}
        self._error = error

    def get_pickled_error(self) -> object:
        return self._error

    def get_error(self) -> None:
        return None


class _Controller:
    def __init__(self, trials: list[_Trial]) -> None:
        self.trials = trials
        self.stopped: list[_Trial] = []

    def get_live_trials(self) -> list[_Trial]:
        return self.trials

    def get_trials(self) -> list[_Trial]:
        return []  # nothing for the inner FIFO scheduler to start

    def stop_trial(self, trial: _Trial) -> None:
        self.stopped.append(trial)


def test_a_worker_killed_for_memory_is_ended_not_retried(tmp_path: Path) -> None:
    """Tune requeues a lost worker's trial; when Ray killed it for memory, the recorder
    marks it and the scheduler wrapper stops it (failed, oom) instead of a retry."""
    from ray.exceptions import OutOfMemoryError
    from ray.tune.schedulers import FIFOScheduler

    from sweeper.observe.recorder import SweepRecorder
    from sweeper.pruning.schedulers import RecordingScheduler

    log = DecisionLog(tmp_path / "d.jsonl")
    budget = SweepBudget(None)
    recorder = SweepRecorder(tmp_path, log, [], 0.0, 3, budget)
    scheduler = RecordingScheduler(FIFOScheduler(), log, 5, "fifo", _Bridge(), budget)
    died, oom = _Trial("died", RuntimeError("worker died")), _Trial(
        "oom", OutOfMemoryError("Task was killed due to the node running low on memory."))
    for trial in (died, oom):
        recorder.on_trial_recover(0, [], trial)  # type: ignore[arg-type]
    controller = _Controller([died, oom])
    scheduler.choose_trial_to_run(controller)
    assert controller.stopped == [oom]  # the other one is retried as Tune decided
    recorder.on_trial_complete(0, [], oom)  # type: ignore[arg-type]
    assert (recorder.rows["oom"]["status"], recorder.rows["oom"]["reason"]) == ("failed", "oom")


def test_a_restored_searcher_counts_every_trial_the_study_asked(tmp_path: Path) -> None:
    """A trial asked after the saved state and ended before a crash keeps its row, so it
    counts toward the budget: the sweep still ends with exactly the requested trials."""
    from optuna.trial import TrialState

    from sweeper.search.searcher import OptunaSearcher

    spec = spec_module.loads("budget: {trials: 4, max_epochs: 2}\n"
                             "space: {learning_rate: {float: [0.001, 0.01]}}\n").spec

    def searcher() -> OptunaSearcher:
        return OptunaSearcher(spec, tmp_path / "study.journal", 4, False,
                              DecisionLog(tmp_path / "decisions.jsonl"), None,
                              lambda *_: None, SweepBudget(None))

    first = searcher()
    assert first.suggest("t0") is not None
    first.save(str(tmp_path / "state.json"))  # Tune's last save: one trial asked
    assert first.suggest("t1") is not None  # asked after it, and ended before the crash
    first.study.tell(first._trials[1], 0.5)
    assert first.suggest("t2") is not None  # asked after it, running at the crash
    restored = searcher()
    restored.restore(str(tmp_path / "state.json"))
    assert restored.issued == 2  # t0 and t1; t2 is an orphan, marked FAIL, never counted
    assert restored.already_ended("t1") and not restored.already_ended("t0")
    states = [t.state for t in restored.study.trials]
    assert states == [TrialState.RUNNING, TrialState.COMPLETE, TrialState.FAIL]


def test_a_sweep_stopped_for_failures_fails_even_when_the_table_breaks_the_run() -> None:
    import pandas as pd

    from sweeper.driver.finish import _failure

    spec = spec_module.loads("failures: {max_consecutive_failed: 2}\n").spec
    trials = pd.DataFrame({  # an infeasible row ended between the two failures
        "trial_id": ["a", "i", "b"], "status": ["failed", "infeasible", "failed"],
        "reason": ["error", "", "error"], "score": [None, None, None],
        "ended_s": [1.0, 2.0, 3.0]})
    budget = SweepBudget(None)
    budget.stop(Reason.SWEEP_STOPPED)  # what the recorder's count decided
    message = _failure(trials, spec, Path("runs/x"), None, budget)
    assert message is not None and "stopped after 2 failed trials in a row" in message


def test_asha_forgets_a_trial_that_failed_before_any_epoch(tmp_path: Path) -> None:
    """A trial failed in its first epoch (NaN) ends with no value: ASHA must not rank it
    (it multiplied None and Tune logged 'Error stopping trial'), and a trial that ended
    pruned by its diagnosis is ranked like any result."""
    from ray.tune.schedulers import AsyncHyperBandScheduler

    from sweeper.pruning.schedulers import RecordingScheduler

    log = DecisionLog(tmp_path / "d.jsonl")
    asha = AsyncHyperBandScheduler(time_attr="epoch", metric="objective", mode="max", max_t=4,
                                   grace_period=1, reduction_factor=2)
    scheduler = RecordingScheduler(asha, log, 4, "asha", _Bridge(), SweepBudget(None))
    nan, diagnosed = _Trial("nan", None), _Trial("diagnosed", None)
    controller = _Controller([nan, diagnosed])
    for trial in (nan, diagnosed):
        scheduler.on_trial_add(controller, trial)
    failed = TrialResult(number=0, seed=0, epoch=0, status=Status.RUNNING).failure(
        Reason.NAN_LOSS, "loss became nan at batch 3 of epoch 1")
    scheduler.on_trial_complete(controller, nan, failed.to_tune())
    assert "nan" not in asha._trial_info
    pruned = TrialResult(number=1, seed=0, epoch=1, status=Status.PRUNED,
                         reason=Reason.DIAGNOSIS, objective=0.2, best_objective=0.2)
    assert scheduler.on_trial_result(controller, diagnosed, pruned.to_tune()) == "CONTINUE"
    scheduler.on_trial_complete(controller, diagnosed, pruned.to_tune())
    assert "diagnosed" not in asha._trial_info
    assert log.last("diagnosed") is None  # it pruned itself: no scheduler decision


class _BracketTrial:
    """A Tune trial as HyperBand reads it: status, is_saving, trial_id."""

    PENDING, RUNNING, PAUSED, TERMINATED = "PENDING", "RUNNING", "PAUSED", "TERMINATED"

    def __init__(self, trial_id: str) -> None:
        self.trial_id, self.status, self.is_saving = trial_id, self.RUNNING, False
        self.config = {"number": 0}


def test_hyperband_halves_a_bracket_whose_last_running_trial_ended_by_itself(
        tmp_path: Path) -> None:
    """Ray's HyperBand halves a bracket only when a trial reaches its milestone (or is
    removed before the first halving): once a bracket has been halved, a trial that ends by
    itself short of the next milestone (pruned by its diagnosis, stopped early, failed)
    left the others paused there for ever."""
    from ray.tune.schedulers import HyperBandScheduler, TrialScheduler

    from sweeper.pruning.schedulers import RecordingScheduler

    class Controller:
        def __init__(self) -> None:
            self.trials: list[_BracketTrial] = []

        def get_live_trials(self) -> list[_BracketTrial]:
            return [t for t in self.trials if t.status != t.TERMINATED]

        def stop_trial(self, trial: _BracketTrial) -> None:
            trial.status = trial.TERMINATED
            scheduler.on_trial_remove(self, trial)

    hyperband = HyperBandScheduler(time_attr="epoch", metric="objective", mode="max",
                                   max_t=9, reduction_factor=3)
    scheduler = RecordingScheduler(hyperband, DecisionLog(tmp_path / "d.jsonl"), 9,
                                   "hyperband", _Bridge(), SweepBudget(None))
    controller = Controller()
    bracket: Any = None
    while bracket is None or not bracket.filled():  # up to the bracket that halves twice
        trial = _BracketTrial(f"t{len(controller.trials)}")
        controller.trials.append(trial)
        scheduler.on_trial_add(controller, trial)
        bracket = hyperband._trial_info[trial][0]
        bracket = bracket if bracket._halves == 2 else None
    members = bracket.current_trials()

    def report(trial: _BracketTrial, epoch: int, value: float,
               status: Status = Status.RUNNING) -> str:
        result = TrialResult(number=0, seed=0, epoch=epoch, status=status, objective=value,
                             best_objective=value, reason=(
                                 Reason.DIAGNOSIS if status == Status.PRUNED else Reason.NONE))
        decision = scheduler.on_trial_result(controller, trial, result.to_tune())
        if decision == TrialScheduler.PAUSE:
            trial.status = trial.PAUSED
        return decision

    milestone = int(bracket._cumul_r)
    for index, trial in enumerate(members):  # every member reaches the first milestone
        report(trial, milestone, 0.1 + 0.01 * index)
    survivors = [t for t in members if t.status != t.TERMINATED]
    assert 1 < len(survivors) < len(members)  # halved once: the bad ones stopped
    for trial in survivors:
        trial.status = trial.RUNNING  # Tune resumes them
    *waiting, last = survivors
    for trial in waiting:
        assert report(trial, int(bracket._cumul_r), 0.5) == TrialScheduler.PAUSE
    # the last running one is pruned by its diagnosis short of the milestone, and ends
    pruned = TrialResult(number=0, seed=0, epoch=milestone + 1, status=Status.PRUNED,
                         reason=Reason.DIAGNOSIS, objective=0.05, best_objective=0.2)
    assert report(last, milestone + 1, 0.05, Status.PRUNED) == TrialScheduler.CONTINUE
    last.status = last.TERMINATED
    scheduler.on_trial_complete(controller, last, pruned.to_tune())
    # the waiting ones go on (or the bracket ends them): none is left paused for ever
    resumed = scheduler.choose_trial_to_run(controller)
    assert resumed in waiting or all(t.status == t.TERMINATED for t in waiting)


def test_the_files_time_limit_is_the_budget_searcher_and_scheduler_share(tmp_path: Path) -> None:
    """`budget.time_limit` in the file is the limit of the one budget the searcher and the
    scheduler wrapper obey (the faults suite ends trials in flight through that budget,
    setting the limit with `sweeper extend` once they are in flight)."""
    from sweeper.driver import wiring
    from sweeper.models.inputs import InputInfo
    from sweeper.models.kinds import ConfigCheck, resolve_kind
    from sweeper.observe.tracking.config import TrackingConfig

    loaded = spec_module.loads("name: timed\nbudget: {trials: 4, time_limit: 90s}\n"
                               "space: {filters: {choice: [4, 8]}}\n")
    check = ConfigCheck(resolve_kind(loaded), InputInfo((8, 8), 1, 10))
    tracking = TrackingConfig(f"sqlite:///{tmp_path / 'mlflow.db'}", "timed", str(tmp_path))
    parts = wiring.components(loaded.spec, tmp_path, 0.0, check, False, True, tracking)
    assert parts.budget.time_limit_s == 90.0 and parts.budget.trials == 4
    assert parts.searcher.budget is parts.budget
    assert parts.scheduler.budget is parts.budget
