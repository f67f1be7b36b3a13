"""MLflow: one parent run per sweep, a nested child run per trial. Only the driver writes.

Tune runs callbacks inside its scheduling loop, so the callback only appends an event to a
write-ahead log (``runs/<name>/mlflow-events.jsonl``) and a queue. A background thread
applies the events in order; when the store is unreachable it retries, and whatever is not
written survives a crash in the log, to be written by ``sweeper resume``. Runs are found
again by their tags, and each run's last logged step is known, so replays never duplicate
a run or a (metric, step) point.

An update the store refuses for good (a parameter name MLflow rejects, a run deleted in the
UI) would block every later one if it were retried: it is retried once on a fresh store,
then written with its error to ``mlflow-skipped.jsonl`` and counted (``skipped``), and the
writer goes on. ``mlflow-applied.json`` counts the log's lines written or skipped; a line
torn by a crash is cut off before the next append, and a damaged one is skipped the same way.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from sweeper.observe.recorder import NEVER_LAUNCHED_PREFIX, SweepRecorder
from sweeper.observe.tracking.config import TrackingConfig
from sweeper.observe.tracking.events import EventKind
from sweeper.observe.tracking.store import MlflowStore, is_permanent
from sweeper.result import TrialResult
from sweeper.status import Status
from sweeper.store import jsonlog
from sweeper.store.tables import DIAGNOSIS_COLUMN, params_of

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["APPLIED_FILE", "EVENTS_FILE", "SKIPPED_FILE", "MlflowTracker"]

EVENTS_FILE = "mlflow-events.jsonl"
APPLIED_FILE = "mlflow-applied.json"
SKIPPED_FILE = "mlflow-skipped.jsonl"  # the updates the store refused, each with its error

# what the writer is handed: the event's line number in the log, and the event (or the
# line that could not be read); None stops it
_Item = tuple[int, dict[str, Any] | jsonlog.BadLine] | None


class MlflowTracker(Callback):
    """The Tune callback: turns trial events into MLflow events, without blocking Tune."""

    def __init__(self, config: TrackingConfig, sweep: str, folder: Path,
                 recorder: SweepRecorder, derived: Callable[[dict[str, Any]], dict[str, Any]]
                 | None = None) -> None:
        self.config = config
        self.sweep = sweep
        self.folder = Path(folder)
        self.recorder = recorder
        self.derived = derived
        self._reset()

    def _reset(self) -> None:
        self.reconcile_on_setup = False
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._logged_infeasible: set[str] = set()
        self._seen_first_result: set[str] = set()
        self._lock = threading.Lock()
        self._lines = 0  # complete lines in the log
        self.last_error: str | None = None  # the latest error still being retried
        self.skipped = 0  # updates refused for good in this process, see SKIPPED_FILE
        self.last_skipped: str | None = None  # the latest of those refusals
        self.restored: str | None = None  # a deleted experiment the writer restored

    def __getstate__(self) -> dict[str, Any]:
        keep = ("config", "sweep", "folder", "recorder", "derived")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    # -- the write-ahead log
    @property
    def _events_path(self) -> Path:
        return self.folder / EVENTS_FILE

    def _applied(self) -> int:
        path = self.folder / APPLIED_FILE
        return int(json.loads(path.read_text())["applied"]) if path.exists() else 0

    def _mark_applied(self, count: int) -> None:
        tmp = self.folder / (APPLIED_FILE + ".tmp")
        tmp.write_text(json.dumps({"applied": count}))
        tmp.replace(self.folder / APPLIED_FILE)

    def warnings(self) -> list[str]:
        """What the end of a sweep should warn about: updates refused for good, and a
        deleted experiment brought back."""
        found = []
        if self.restored is not None:
            found.append(f"the MLflow experiment {self.config.experiment!r} (id "
                         f"{self.restored}) had been deleted; it was restored, with its "
                         "runs, to hold this sweep (delete it again after the sweep, or "
                         "set tracking.experiment to another name)")
        if self.skipped:
            found.append(f"{self.skipped} MLflow update(s) were refused by the tracking store "
                         f"and skipped (last: {self.last_skipped}); each is kept with its "
                         f"error in {self.folder / SKIPPED_FILE}")
        return found

    def emit(self, event: dict[str, Any]) -> None:
        """Record an event durably and hand it to the writer; returns at once."""
        self.start()
        with self._lock:
            jsonlog.append(self._events_path, event)
            self._lines += 1
            self._queue.put((self._lines, event))

    def start(self) -> None:
        """Start the writer once, first replaying events a crashed driver left unwritten."""
        if self._thread is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        jsonlog.repair(self._events_path)  # a line torn by a crash was never applied
        log = jsonlog.read(self._events_path, skip=self._applied())
        self._lines = log.lines
        pending: list[tuple[int, dict[str, Any] | jsonlog.BadLine]] = [*log.entries]
        pending += [(bad.number, bad) for bad in log.bad]
        for item in sorted(pending, key=lambda item: item[0]):
            self._queue.put(item)
        self._thread = threading.Thread(target=self._drain, name="sweeper-mlflow",
                                        daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        # The writer retries on its own, for as long as it takes; MLflow's retries inside
        # each request (7, backoff doubling from 2 s: minutes) would only hide an outage
        # from it, and from the end of a sweep deciding how long to wait.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        store = MlflowStore(self.config, self.sweep)
        while True:
            item = self._queue.get()
            if item is None:
                return
            line, event = item
            if isinstance(event, jsonlog.BadLine):
                self._skip({"line": line, "text": event.text},
                           f"line {line} of {EVENTS_FILE} is {event.problem}")
            else:
                store = self._apply(store, event)
            self._mark_applied(line)

    def _apply(self, store: MlflowStore, event: dict[str, Any]) -> MlflowStore:
        """Apply one event, retrying while the store is away; returns the store to go on
        with. A refusal is retried once on a fresh store (which finds the experiment
        again, restoring it if it was deleted), then skipped."""
        delay = 1.0
        refused = False
        while True:
            try:
                store.apply(event)
                self.last_error = None
                self.restored = store.restored or self.restored
                return store
            except Exception as exc:
                error = f"{type(exc).__name__}: {str(exc)[:300]}"
                if is_permanent(exc) and refused:
                    self._skip(event, error)
                    return store
                if is_permanent(exc):
                    refused = True
                else:  # the store is away or busy: wait and retry
                    self.last_error = error
                    time.sleep(delay)
                    delay = min(delay * 2, 15.0)
                store = MlflowStore(self.config, self.sweep)

    def _skip(self, event: dict[str, Any], error: str) -> None:
        self.skipped += 1
        self.last_skipped = error
        jsonlog.repair(self.folder / SKIPPED_FILE)
        jsonlog.append(self.folder / SKIPPED_FILE, {"error": error, "event": event})

    def close(self, timeout: float = 60.0, stalled_after: float = 20.0) -> int:
        """Wait for the writer to catch up: at most ``timeout``, and no longer than
        ``stalled_after`` once it writes nothing while the store is away (what is left
        stays in the log for `sweeper resume`). Returns the events left over."""
        if self._thread is None:
            return 0
        self._queue.put(None)
        deadline = time.monotonic() + timeout
        progress, since = self._applied(), time.monotonic()
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._thread.join(0.5)
            applied = self._applied()
            if applied != progress or self.last_error is None:
                progress, since = applied, time.monotonic()
            elif time.monotonic() - since > stalled_after:
                break  # the store is away: nothing more will be written now
        left = self._queue.qsize()
        if self._thread.is_alive():
            left = self._lines - self._applied()
        self._thread = None
        return max(left, 0)

    # -- Tune callback hooks
    def setup(self, **info: Any) -> None:  # type: ignore[override]
        self.start()
        if self.reconcile_on_setup:  # resumed: Tune's restored state is the truth
            self.reconcile_on_setup = False
            self.emit({"kind": EventKind.RECONCILE, "known_trials": list(self.recorder.rows)})

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        row = self.recorder.rows.get(trial.trial_id, {})
        self.emit({"kind": EventKind.TRIAL_START, "trial_id": trial.trial_id,
                   "number": trial.config.get("number"), "params": trial.config["params"],
                   "seed": trial.config.get("seed", row.get("seed"))})
        self._infeasible()

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial,
                        result: dict[str, Any], **info: Any) -> None:
        record = TrialResult.from_tune(result)
        if record is None or record.status == Status.FAILED:
            return
        if trial.trial_id not in self._seen_first_result:
            self._seen_first_result.add(trial.trial_id)
            params: dict[str, Any] = {"training_seed": record.seed}
            if self.derived is not None:
                params.update(self.derived(trial.config["params"]))
            # counted on the built model, whatever the kind could tell before
            params.update({"param_count": record.param_count, "flops": record.flops})
            placement = record.placement
            self.emit({"kind": EventKind.TRIAL_INFO, "trial_id": trial.trial_id,
                       "params": {k: v for k, v in params.items() if v is not None},
                       "tags": {"sweeper.node_id": placement.node_id,
                                "sweeper.node_ip": placement.node_ip,
                                "sweeper.gpu_ids": placement.gpu_ids}})
        if record.failed:  # over a constraint once built or timed: its counts, no epoch
            return
        self.emit({"kind": EventKind.EPOCH, "trial_id": trial.trial_id, "step": record.epoch,
                   "metrics": record.epoch_metrics(), "timestamp": int(time.time() * 1000)})

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial,
                          **info: Any) -> None:
        self._trial_end(trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        self._trial_end(trial.trial_id)

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        self._infeasible()

    def _trial_end(self, trial_id: str) -> None:
        if trial_id not in self.recorder.rows:
            return  # taken back before it started (the recorder keeps a row of every other)
        row = self.recorder.rows[trial_id]
        findings = self.recorder.trial_findings(trial_id)
        tags = {"sweeper.score": row.get("score"), "sweeper.epochs": row.get("epochs")}
        tags.update({f"sweeper.{column}": row[column] for column in self.recorder.objective_columns
                     if row.get(column) is not None})  # a multi-objective sweep's other values
        if findings:  # filterable in the UI: tags.`sweeper.diagnosis` LIKE '%dead_relu%'
            tags["sweeper.diagnosis"] = row.get(DIAGNOSIS_COLUMN, "")
            tags.update({f"sweeper.diagnosis.{f['code']}": f["severity"] for f in findings})
        self.emit({"kind": EventKind.TRIAL_END, "trial_id": trial_id, "number": row.get("number"),
                   "status": row.get("status", Status.FAILED.value),
                   "reason": row.get("reason", ""),
                   "error": row.get("error", ""), "tags": tags, "diagnosis": findings})

    def _infeasible(self) -> None:
        for trial_id, row in list(self.recorder.rows.items()):
            if row["status"] != Status.INFEASIBLE or trial_id in self._logged_infeasible \
                    or not trial_id.startswith(NEVER_LAUNCHED_PREFIX):  # Tune's: has its run
                continue
            self._logged_infeasible.add(trial_id)
            params = params_of(row)
            self.emit({"kind": EventKind.TRIAL_START, "trial_id": trial_id, "number": row["number"],
                       "params": params, "seed": row.get("seed")})
            self.emit({"kind": EventKind.TRIAL_END, "trial_id": trial_id, "number": row["number"],
                       "status": Status.INFEASIBLE.value, "reason": row["reason"],
                       "error": ""})
