"""The engine's rules that need no cluster: statuses, resources, overrides, GPU caps."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from sweeper import config as spec_module
from sweeper.config import Overrides
from sweeper.driver.cluster import NodeResources, check_resources
from sweeper.errors import UserInputError
from sweeper.objective import Objective
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
    assert final_status(log, "a", result(Status.COMPLETED), False) == (Status.COMPLETED,
                                                                      Reason.NONE)
    assert final_status(log, "a", result(Status.STOPPED_EARLY), False)[0] == Status.STOPPED_EARLY
    assert final_status(log, "a", result(Status.FAILED, Reason.OOM), False) == (
        Status.FAILED, Reason.OOM)
    assert final_status(log, "a", running, True) == (Status.FAILED, Reason.WORKER_DIED)
    # a trial Tune stopped without a scheduler decision: the sweep's time limit
    assert final_status(log, "a", running, False) == (Status.PRUNED, Reason.TIME_LIMIT)
    log.record("a", Decision.PRUNED, 2, "asha")
    assert final_status(log, "a", running, False) == (Status.PRUNED, Reason.SCHEDULER)


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
    searcher = OptunaSearcher(spec, tmp_path / "study.journal", 3, False,
                              DecisionLog(tmp_path / "decisions.jsonl"), None, lambda *_: None)
    searcher.issued = 2
    synced = tmp_path / "tune" / "driver_artifacts"
    synced.mkdir(parents=True)
    searcher.save_to_dir(str(synced), "s1")
    assert [p.name for p in synced.iterdir()] == ["searcher-state-s1.pkl"]
    assert not list((tmp_path / "tune").glob("*.tmp"))
    restored = OptunaSearcher(spec, tmp_path / "study.journal", 3, False,
                              DecisionLog(tmp_path / "decisions.jsonl"), None, lambda *_: None)
    restored.restore_from_dir(str(synced))
    assert restored.issued == 2


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
