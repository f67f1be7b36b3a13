"""MLflow: one parent run per sweep, a nested child run per trial. Only the driver writes.

Tune runs callbacks inside its scheduling loop, so the callback only appends an event to a
write-ahead log (``runs/<name>/mlflow-events.jsonl``) and a queue. A background thread
applies the events in order; when the store is unreachable it retries, and whatever is not
written survives a crash in the log, to be written by ``sweeper resume``. Runs are found
again by their tags, and each run's last logged step is known, so replays never duplicate
a run or a (metric, step) point.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from sweeper.observe.tracking.config import TrackingConfig
from sweeper.observe.tracking.events import EventKind
from sweeper.observe.tracking.store import MlflowStore
from sweeper.result import TrialResult
from sweeper.status import Status
from sweeper.store.tables import params_of

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

    from sweeper.observe.recorder import SweepRecorder

__all__ = ["EVENTS_FILE", "MlflowTracker"]

EVENTS_FILE = "mlflow-events.jsonl"
APPLIED_FILE = "mlflow-applied.json"


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
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._logged_infeasible: set[str] = set()
        self._seen_first_result: set[str] = set()
        self._lock = threading.Lock()
        self.last_error: str | None = None

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

    def emit(self, event: dict[str, Any]) -> None:
        """Record an event durably and hand it to the writer; returns at once."""
        self.start()
        with self._lock:
            with self._events_path.open("a") as handle:
                handle.write(json.dumps(event, default=str) + "\n")
            self._queue.put(event)

    def start(self) -> None:
        """Start the writer once, first replaying events a crashed driver left unwritten."""
        if self._thread is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        applied = self._applied()
        pending = []
        if self._events_path.exists():
            lines = self._events_path.read_text().splitlines()
            pending = [json.loads(line) for line in lines[applied:] if line.strip()]
        for event in pending:
            self._queue.put(event)
        self._thread = threading.Thread(target=self._drain, args=(applied,),
                                        name="sweeper-mlflow", daemon=True)
        self._thread.start()

    def _drain(self, applied: int) -> None:
        store = MlflowStore(self.config, self.sweep)
        while True:
            event = self._queue.get()
            if event is None:
                return
            delay = 1.0
            while True:
                try:
                    store.apply(event)
                    self.last_error = None
                    break
                except Exception as exc:  # the store is down or refused: wait and retry
                    self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                    time.sleep(delay)
                    delay = min(delay * 2, 15.0)
                    store = MlflowStore(self.config, self.sweep)
            applied += 1
            self._mark_applied(applied)

    def close(self, timeout: float = 60.0) -> int:
        """Wait for the writer to catch up (at most ``timeout``); returns events left over."""
        if self._thread is None:
            return 0
        self._queue.put(None)
        self._thread.join(timeout)
        left = self._queue.qsize()
        if self._thread.is_alive():
            left = sum(1 for line in self._events_path.read_text().splitlines() if line) \
                - self._applied()
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
        if record is None or record.failed:
            return
        if trial.trial_id not in self._seen_first_result:
            self._seen_first_result.add(trial.trial_id)
            params: dict[str, Any] = {"training_seed": record.seed,
                                      "param_count": record.param_count}
            if self.derived is not None:
                params.update(self.derived(trial.config["params"]))
            placement = record.placement
            self.emit({"kind": EventKind.TRIAL_INFO, "trial_id": trial.trial_id,
                       "params": {k: v for k, v in params.items() if v is not None},
                       "tags": {"sweeper.node_id": placement.node_id,
                                "sweeper.node_ip": placement.node_ip,
                                "sweeper.gpu_ids": placement.gpu_ids}})
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
        row = self.recorder.rows.get(trial_id, {})
        self.emit({"kind": EventKind.TRIAL_END, "trial_id": trial_id, "number": row.get("number"),
                   "status": row.get("status", Status.FAILED.value),
                   "reason": row.get("reason", ""),
                   "error": row.get("error", ""),
                   "tags": {"sweeper.score": row.get("score"),
                            "sweeper.epochs": row.get("epochs")}})

    def _infeasible(self) -> None:
        for trial_id, row in list(self.recorder.rows.items()):
            if row["status"] != Status.INFEASIBLE or trial_id in self._logged_infeasible:
                continue
            self._logged_infeasible.add(trial_id)
            params = params_of(row)
            self.emit({"kind": EventKind.TRIAL_START, "trial_id": trial_id, "number": row["number"],
                       "params": params, "seed": row.get("seed")})
            self.emit({"kind": EventKind.TRIAL_END, "trial_id": trial_id, "number": row["number"],
                       "status": Status.INFEASIBLE.value, "reason": row["reason"],
                       "error": ""})
