"""Append-only logs after a crash: a torn last line of ``decisions.jsonl`` or
``mlflow-events.jsonl`` is dropped and cut off before the next append; a damaged line in the
middle is skipped and reported; the MLflow writer's applied count stays on its lines; and an
update MLflow refuses for good is recorded and skipped while later ones are written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
)

from sweeper.observe.tracking.config import TrackingConfig
from sweeper.observe.tracking.events import EventKind
from sweeper.observe.tracking.store import is_permanent
from sweeper.observe.tracking.tracker import APPLIED_FILE, EVENTS_FILE, SKIPPED_FILE, MlflowTracker
from sweeper.pruning.decisions import DecisionLog
from sweeper.status import Decision, Status

TORN = '{"trial_id": "t2", "decision": "pau'


def lines_of(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def decision(trial_id: str, kind: Decision, epoch: int) -> str:
    return json.dumps({"trial_id": trial_id, "decision": kind.value, "epoch": epoch,
                       "by": "asha"}) + "\n"


def test_a_torn_last_decision_is_dropped_and_cut_off_before_the_next(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_text(decision("t1", Decision.PAUSED, 1) + decision("t1", Decision.PRUNED, 2)
                    + TORN)
    log = DecisionLog(path)  # today: JSONDecodeError on every resume
    last = log.last("t1")
    assert last is not None and last.decision == Decision.PRUNED and log.last("t2") is None
    assert log.skipped == []  # a torn last line is what a crash leaves: nothing to report
    log.record("t2", Decision.PAUSED, 1, "asha")
    assert [e["trial_id"] for e in lines_of(path)] == ["t1", "t1", "t2"]
    again = DecisionLog(path)
    assert again.paused_at("t2", 1) and again.skipped == []


def test_a_damaged_decision_in_the_middle_is_skipped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_text(decision("t1", Decision.PAUSED, 1) + TORN + "\n"  # glued on, long ago
                    + decision("t3", Decision.PAUSED, 2) + '{"trial_id": "t4"}\n')
    log = DecisionLog(path)
    assert log.paused_at("t1", 1) and log.paused_at("t3", 2)
    assert len(log.skipped) == 2
    assert log.skipped[0].startswith("decisions.jsonl:2: not JSON")
    assert log.skipped[1].startswith("decisions.jsonl:4: not a decision")


def test_permanent_and_transient_errors() -> None:
    assert is_permanent(MlflowException("bad name", INVALID_PARAMETER_VALUE))
    assert is_permanent(MlflowException("no such run", RESOURCE_DOES_NOT_EXIST))
    assert is_permanent(KeyError("kind"))  # an event this writer cannot apply
    assert not is_permanent(MlflowException("API request failed", INTERNAL_ERROR))
    assert not is_permanent(MlflowException("database is locked", TEMPORARILY_UNAVAILABLE))
    assert not is_permanent(ConnectionRefusedError(111, "refused"))
    assert not is_permanent(TimeoutError("timed out"))


def event(kind: EventKind, **fields: Any) -> dict[str, Any]:
    return {"kind": kind.value, **fields}


def trial(number: int, params: dict[str, Any]) -> list[dict[str, Any]]:
    trial_id = f"t{number}"
    return [event(EventKind.TRIAL_START, trial_id=trial_id, number=number, params=params,
                  seed=number),
            event(EventKind.EPOCH, trial_id=trial_id, step=1, metrics={"objective": 0.5},
                  timestamp=1),
            event(EventKind.TRIAL_END, trial_id=trial_id, number=number,
                  status=Status.COMPLETED.value, reason="", error="", tags={})]


@pytest.fixture
def tracker(tmp_path: Path) -> MlflowTracker:
    config = TrackingConfig(f"sqlite:///{tmp_path / 'mlflow.db'}", "torn", None)
    return MlflowTracker(config, "torn", tmp_path / "torn", cast(Any, None))


def trial_runs(tracker: MlflowTracker) -> dict[str, Any]:
    client = MlflowClient(tracker.config.uri)
    experiment = client.get_experiment_by_name(tracker.config.experiment)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    return {r.data.tags["sweeper.trial_id"]: r for r in runs
            if r.data.tags.get("sweeper.role") == "trial"}


def test_a_torn_last_event_is_dropped_and_the_applied_count_stays_on_lines(
        tracker: MlflowTracker) -> None:
    folder = tracker.folder
    folder.mkdir(parents=True)
    first = trial(0, {"lr": 0.1})
    (folder / EVENTS_FILE).write_text(
        "".join(json.dumps(e) + "\n" for e in first) + json.dumps(trial(1, {})[0])[:30])
    (folder / APPLIED_FILE).write_text(json.dumps({"applied": 1}))  # trial 0 started only
    for item in trial(2, {"lr": 0.2}):
        tracker.emit(item)  # today: json.loads fails in start(), and it is glued on
    assert tracker.close(60) == 0
    logged = lines_of(folder / EVENTS_FILE)
    assert [e["trial_id"] for e in logged] == ["t0"] * 3 + ["t2"] * 3
    assert json.loads((folder / APPLIED_FILE).read_text())["applied"] == len(logged)
    runs = trial_runs(tracker)
    assert set(runs) == {"t0", "t2"} and runs["t2"].data.params["lr"] == "0.2"
    assert runs["t0"].info.status == "FINISHED"


def test_a_damaged_event_in_the_middle_is_skipped_and_recorded(tracker: MlflowTracker) -> None:
    folder = tracker.folder
    folder.mkdir(parents=True)
    events = trial(0, {"lr": 0.1})
    (folder / EVENTS_FILE).write_text(json.dumps(events[0]) + "\n" + "{garbage\n"
                                      + "".join(json.dumps(e) + "\n" for e in events[1:]))
    tracker.start()
    assert tracker.close(60) == 0
    assert json.loads((folder / APPLIED_FILE).read_text())["applied"] == 4
    skipped = lines_of(folder / SKIPPED_FILE)
    assert skipped[0]["event"] == {"line": 2, "text": "{garbage"}
    assert tracker.skipped == 1 and any(SKIPPED_FILE in w for w in tracker.warnings())
    assert trial_runs(tracker)["t0"].info.status == "FINISHED"


def test_a_parameter_mlflow_rejects_is_skipped_and_later_updates_go_on(
        tracker: MlflowTracker) -> None:
    for item in trial(0, {"lr@block1": 0.1}) + trial(1, {"lr": 0.2}):
        tracker.emit(item)
    assert tracker.close(30) == 0  # today: retried without end, nothing after it written
    skipped = lines_of(tracker.folder / SKIPPED_FILE)
    assert [s["event"]["kind"] for s in skipped] == [EventKind.TRIAL_START.value]
    assert "INVALID_PARAMETER_VALUE" in skipped[0]["error"] or "lr@block1" in skipped[0]["error"]
    assert tracker.skipped == 1 and tracker.last_skipped is not None
    warning = " ".join(tracker.warnings())
    assert "1 MLflow update(s) were refused" in warning and str(tracker.folder) in warning
    runs = trial_runs(tracker)
    assert runs["t0"].info.status == "FINISHED"  # its epoch and end were written
    assert runs["t1"].data.params == {"lr": "0.2"}
    applied = json.loads((tracker.folder / APPLIED_FILE).read_text())["applied"]
    assert applied == len(lines_of(tracker.folder / EVENTS_FILE)) == 6
