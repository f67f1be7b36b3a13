"""MLflow: one parent run per sweep, a nested child run per trial. Only the driver writes.

Tune runs callbacks inside its scheduling loop, so the callback only appends an event to a
write-ahead log (``runs/<name>/mlflow-events.jsonl``) and a queue. A background thread
applies the events in order; when the store is unreachable it retries, and whatever is not
written survives a crash in the log, to be written by ``sweeper resume``. Runs are found
again by their tags, and each run's last logged step is known, so replays never duplicate
a run or a (metric, step) point.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from sweeper.errors import UserInputError
from sweeper.status import Status

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from ray.tune.experiment import Trial

    from sweeper.recorder import SweepRecorder

EVENTS_FILE = "mlflow-events.jsonl"
APPLIED_FILE = "mlflow-applied.json"
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_seconds",
                 "objective", "best_objective", "optimizer_iterations")
RUN_STATUS = {Status.COMPLETED: "FINISHED", Status.STOPPED_EARLY: "FINISHED",
              Status.PRUNED: "KILLED", Status.FAILED: "FAILED", Status.INFEASIBLE: "FAILED"}
SECRET_IN_URI = re.compile(r"(?P<scheme>[a-z][\w+.-]*://)[^/@\s]+@", re.I)


def redact(text: str) -> str:
    """Credentials in URIs (``https://user:token@host``) never reach MLflow."""
    return SECRET_IN_URI.sub(r"\g<scheme>***@", text)


@dataclass(frozen=True)
class TrackingConfig:
    """Where a sweep's runs go."""

    uri: str
    experiment: str
    artifact_root: str | None  # only for the embedded store

    @property
    def embedded(self) -> bool:
        return self.artifact_root is not None


def resolve(uri: str | None, experiment: str | None, sweep_name: str,
            runs_dir: Path) -> TrackingConfig:
    """--tracking-uri, else the file's tracking.uri, else MLFLOW_TRACKING_URI, else runs/."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return TrackingConfig(uri, experiment or sweep_name, None)
    root = runs_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    return TrackingConfig(f"sqlite:///{root / 'mlflow.db'}", experiment or sweep_name,
                          (root / "mlartifacts").as_uri())


def _client(config: TrackingConfig) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=config.uri)


def check_reachable(config: TrackingConfig) -> None:
    """A store that cannot be reached is bad input: say so before anything trains."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                                            "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "10"
    try:
        _client(config).search_experiments(max_results=1)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserInputError(
            f"the MLflow tracking store {redact(config.uri)} cannot be reached ({first[:300]}); "
            "start the server, or pass another --tracking-uri (nothing was trained)") from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Store:
    """Applies events to MLflow; every method is safe to repeat."""

    def __init__(self, config: TrackingConfig, sweep: str) -> None:
        self.config = config
        self.sweep = sweep
        self.client = _client(config)
        self.experiment_id: str | None = None
        self.parent: str | None = None
        self.runs: dict[str, str] = {}  # trial id -> run id
        self.steps: dict[str, int] = {}  # run id -> last logged step

    def _experiment(self) -> str:
        if self.experiment_id is None:
            found = self.client.get_experiment_by_name(self.config.experiment)
            if found is not None:
                self.experiment_id = found.experiment_id
            else:
                location = (f"{self.config.artifact_root}/{self.config.experiment}"
                            if self.config.artifact_root else None)
                # the UI opens model-training experiments on their runs table
                self.experiment_id = self.client.create_experiment(
                    self.config.experiment, artifact_location=location,
                    tags={"mlflow.experimentKind": "custom_model_development"})
        return self.experiment_id

    def _find(self, filters: str) -> Any:
        from mlflow.entities import ViewType

        found = self.client.search_runs(
            [self._experiment()], filter_string=filters, run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1)
        return found[0] if found else None

    def parent_run(self) -> str:
        if self.parent is None:
            run = self._find(f"tags.`sweeper.sweep` = '{self.sweep}' and "
                             "tags.`sweeper.role` = 'sweep'")
            if run is None:
                run = self.client.create_run(
                    self._experiment(), run_name=self.sweep,
                    tags={"sweeper.sweep": self.sweep, "sweeper.role": "sweep"})
            self.parent = run.info.run_id
        return self.parent

    def trial_run(self, trial_id: str, number: Any = None) -> str:
        if trial_id not in self.runs:
            run = self._find(f"tags.`sweeper.sweep` = '{self.sweep}' and "
                             f"tags.`sweeper.trial_id` = '{trial_id}'")
            if run is None:
                name = f"trial-{int(number):03d}" if number is not None else trial_id
                run = self.client.create_run(
                    self._experiment(), run_name=name,
                    tags={"mlflow.parentRunId": self.parent_run(), "sweeper.sweep": self.sweep,
                          "sweeper.role": "trial", "sweeper.trial_id": trial_id,
                          "sweeper.number": str(number)})
            else:
                history = self.client.get_metric_history(run.info.run_id, "objective")
                self.steps[run.info.run_id] = max((m.step for m in history), default=0)
            self.runs[trial_id] = run.info.run_id
        return self.runs[trial_id]

    def _params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        existing = self.client.get_run(run_id).data.params
        new = [Param(k, str(v)[:6000]) for k, v in params.items() if k not in existing]
        if new:
            self.client.log_batch(run_id, params=new)

    def _tags(self, run_id: str, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)[:7000]) for k, v in tags.items()])

    def apply(self, event: dict[str, Any]) -> None:
        getattr(self, f"_on_{event['kind']}")(event)

    def _on_sweep_start(self, event: dict[str, Any]) -> None:
        run_id = self.parent_run()
        self.client.update_run(run_id, status="RUNNING")
        self._tags(run_id, {"sweeper.spec_hash": event["spec_hash"],
                            "sweeper.status": "running",
                            "sweeper.planned_trials": event["planned"]})
        self.client.log_text(run_id, redact(event["spec_text"]), "sweep.yaml")

    def _on_trial_start(self, event: dict[str, Any]) -> None:
        run_id = self.trial_run(event["trial_id"], event["number"])
        self.client.update_run(run_id, status="RUNNING")
        self._params(run_id, event["params"])
        self._tags(run_id, {"sweeper.status": "running", "sweeper.seed": event["seed"]})

    def _on_trial_info(self, event: dict[str, Any]) -> None:
        run_id = self.trial_run(event["trial_id"])
        self._params(run_id, event["params"])
        self._tags(run_id, event["tags"])

    def _on_epoch(self, event: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        run_id = self.trial_run(event["trial_id"])
        step = int(event["step"])
        if step <= self.steps.get(run_id, 0):
            return  # already logged (a restarted trial reporting an epoch again)
        metrics = [Metric(k, float(v), int(event["timestamp"]), step)
                   for k, v in event["metrics"].items()]
        self.client.log_batch(run_id, metrics=metrics)
        self.steps[run_id] = step

    def _on_trial_end(self, event: dict[str, Any]) -> None:
        run_id = self.trial_run(event["trial_id"], event.get("number"))
        if event.get("params"):
            self._params(run_id, event["params"])
        tags = {"sweeper.status": event["status"], "sweeper.reason": event["reason"],
                **event.get("tags", {})}
        self._tags(run_id, tags)
        if event.get("error"):
            self.client.log_text(run_id, event["error"], "error.txt")
        self.client.set_terminated(run_id, RUN_STATUS[Status(event["status"])])

    def _on_interrupted(self, event: dict[str, Any]) -> None:
        from mlflow.entities import RunStatus

        for trial_id in event["open_trials"]:
            run_id = self.trial_run(trial_id)
            if self.client.get_run(run_id).info.status == RunStatus.to_string(RunStatus.RUNNING):
                self._tags(run_id, {"sweeper.status": "interrupted"})
                self.client.set_terminated(run_id, "KILLED")
        self._tags(self.parent_run(), {"sweeper.status": "interrupted"})
        self.client.set_terminated(self.parent_run(), "KILLED")

    def _on_reconcile(self, event: dict[str, Any]) -> None:
        """After a restore, Tune's state is the truth: runs of trials it never knew go."""
        from mlflow.entities import ViewType

        known = set(event["known_trials"])
        runs = self.client.search_runs(
            [self._experiment()], filter_string=f"tags.`sweeper.sweep` = '{self.sweep}' and "
            "tags.`sweeper.role` = 'trial'", run_view_type=ViewType.ACTIVE_ONLY,
            max_results=50000)
        for run in runs:
            trial_id = run.data.tags.get("sweeper.trial_id")
            if trial_id in known:
                continue
            self._tags(run.info.run_id, {"sweeper.status": "superseded"})
            if run.info.status == "RUNNING":
                self.client.set_terminated(run.info.run_id, "KILLED")
            self.client.delete_run(run.info.run_id)
            self.runs.pop(str(trial_id), None)

    def _on_sweep_end(self, event: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        run_id = self.parent_run()
        now = int(time.time() * 1000)
        metrics = [Metric(f"trials_{status}", float(n), now, 0)
                   for status, n in event["counts"].items()]
        if event.get("best_score") is not None:
            metrics.append(Metric("best_score", float(event["best_score"]), now, 0))
            metrics.append(Metric("best_trial_number", float(event["best_number"]), now, 0))
        test = event.get("test")
        if test:  # the exported best model on the test split, beside its validation score
            test_metrics = [Metric(k, float(v), now, 0) for k, v in test["metrics"].items()]
            metrics += test_metrics
            self.client.log_batch(self.trial_run(test["trial_id"]), metrics=test_metrics)
            self._tags(self.trial_run(test["trial_id"]),
                       {"sweeper.test_images": test["images"]})
        self.client.log_batch(run_id, metrics=metrics)
        self._tags(run_id, {"sweeper.status": event["status"],
                            "sweeper.best_trial_id": event.get("best_trial_id") or "",
                            **({"sweeper.test_images": test["images"]} if test else {})})
        for path, folder in event["artifacts"]:
            if Path(path).exists():
                self.client.log_artifact(run_id, path, folder)
        self.client.set_terminated(run_id, "FINISHED" if event["status"] == "finished"
                                   else "FAILED")

    def _on_register(self, event: dict[str, Any]) -> None:
        from mlflow.exceptions import MlflowException

        run_id = self.parent_run()
        with contextlib.suppress(MlflowException):  # already registered: add a version
            self.client.create_registered_model(event["name"])
        source = f"runs:/{run_id}/{event['artifact_path']}"
        self.client.create_model_version(event["name"], source, run_id=run_id,
                                         tags={"sweeper.sweep": self.sweep})


def log_files(config: TrackingConfig, sweep: str, paths: list[Path], folder: str) -> bool:
    """Attach files to a sweep's parent run now (e.g. plots made after the sweep)."""
    try:
        store = _Store(config, sweep)
        run_id = store.parent_run()
        for path in paths:
            store.client.log_artifact(run_id, str(path), folder)
        return True
    except Exception:  # the tables and files on disk are what matter here
        return False


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
        store = _Store(self.config, self.sweep)
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
                    store = _Store(self.config, self.sweep)
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
            self.emit({"kind": "reconcile", "known_trials": list(self.recorder.rows)})

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        row = self.recorder.rows.get(trial.trial_id, {})
        self.emit({"kind": "trial_start", "trial_id": trial.trial_id,
                   "number": trial.config.get("number"), "params": trial.config["params"],
                   "seed": trial.config.get("seed", row.get("seed"))})
        self._infeasible()

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial,
                        result: dict[str, Any], **info: Any) -> None:
        if result.get("status") == Status.FAILED:
            return
        if trial.trial_id not in self._seen_first_result:
            self._seen_first_result.add(trial.trial_id)
            params = {"training_seed": result.get("seed"),
                      "param_count": result.get("param_count")}
            if self.derived is not None:
                params.update(self.derived(trial.config["params"]))
            self.emit({"kind": "trial_info", "trial_id": trial.trial_id,
                       "params": {k: v for k, v in params.items() if v is not None},
                       "tags": {"sweeper.node_id": result.get("node_id", ""),
                                "sweeper.node_ip": result.get("node_ip", ""),
                                "sweeper.gpu_ids": result.get("gpu_ids", "")}})
        metrics = {k: result[k] for k in EPOCH_METRICS
                   if isinstance(result.get(k), int | float)}
        self.emit({"kind": "epoch", "trial_id": trial.trial_id, "step": result.get("epoch"),
                   "metrics": metrics, "timestamp": int(time.time() * 1000)})

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
        self.emit({"kind": "trial_end", "trial_id": trial_id, "number": row.get("number"),
                   "status": row.get("status", "failed"), "reason": row.get("reason", ""),
                   "error": row.get("error", ""),
                   "tags": {"sweeper.score": row.get("score"),
                            "sweeper.epochs": row.get("epochs")}})

    def _infeasible(self) -> None:
        for trial_id, row in list(self.recorder.rows.items()):
            if row["status"] != Status.INFEASIBLE or trial_id in self._logged_infeasible:
                continue
            self._logged_infeasible.add(trial_id)
            params = {k[len("param_"):]: v for k, v in row.items() if k.startswith("param_")}
            self.emit({"kind": "trial_start", "trial_id": trial_id, "number": row["number"],
                       "params": params, "seed": row.get("seed")})
            self.emit({"kind": "trial_end", "trial_id": trial_id, "number": row["number"],
                       "status": str(Status.INFEASIBLE), "reason": row["reason"],
                       "error": ""})
