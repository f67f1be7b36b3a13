"""Applying the write-ahead log's events to MLflow: one parent run per sweep, a nested child
run per trial. Every method is safe to repeat: runs are found again by their tags, and each
run's last logged step is known, so a replay never duplicates a run or a (metric, step)."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from sweeper.observe.tracking.config import TrackingConfig, client, redact
from sweeper.observe.tracking.events import EventKind
from sweeper.status import Status, SweepStatus, TrackedStatus

__all__ = ["DIAGNOSIS_ARTIFACT", "PERMANENT_ERRORS", "MlflowStore", "is_permanent", "log_files"]

DIAGNOSIS_ARTIFACT = "diagnosis.json"

RUN_STATUS = {Status.COMPLETED: "FINISHED", Status.STOPPED_EARLY: "FINISHED",
              Status.PRUNED: "KILLED", Status.FAILED: "FAILED", Status.INFEASIBLE: "FAILED"}

# MLflow's error codes (mlflow/protos/databricks_pb2) for a request the store refuses for
# good: repeating it cannot help. Others (INTERNAL_ERROR, which a connection failure or a
# 5xx becomes after MLflow's own retries, TEMPORARILY_UNAVAILABLE for a locked database,
# DEADLINE_EXCEEDED, REQUEST_LIMIT_EXCEEDED, and credentials refused: every update would
# fail alike) may pass, so they are retried and stay in the log for `sweeper resume`.
PERMANENT_ERRORS = frozenset({
    "INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS",
    "ALREADY_EXISTS", "BAD_REQUEST", "INVALID_STATE", "NOT_FOUND", "NOT_IMPLEMENTED"})


def is_permanent(exc: BaseException) -> bool:
    """Whether applying the event again cannot succeed (MLflow refused it, or it is not an
    event this writer can apply), as opposed to a store that is away, busy or failing."""
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        return exc.error_code in PERMANENT_ERRORS
    if isinstance(exc, OSError):  # connections, timeouts (requests' errors are OSErrors)
        return False
    return isinstance(exc, KeyError | TypeError | ValueError)


class MlflowStore:
    """Applies events to MLflow; every method is safe to repeat."""

    def __init__(self, config: TrackingConfig, sweep: str) -> None:
        self.config = config
        self.sweep = sweep
        self.client = client(config)
        self.experiment_id: str | None = None
        self.parent: str | None = None
        self.runs: dict[str, str] = {}  # trial id -> run id
        self.steps: dict[str, int] = {}  # run id -> last logged step
        self.restored: str | None = None  # the id of a deleted experiment it restored

    def _experiment(self) -> str:
        from mlflow.entities import LifecycleStage

        if self.experiment_id is None:
            found = self.client.get_experiment_by_name(self.config.experiment)
            if found is not None and found.lifecycle_stage == LifecycleStage.DELETED:
                # Deleted in the UI: MLflow keeps it, and its name, until `mlflow gc`, so
                # no new experiment can take the name; restoring it (with its runs) keeps
                # the sweep's record whole, where refusing would drop every later update.
                self.client.restore_experiment(found.experiment_id)
                self.restored = found.experiment_id
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
        new = [Param(k, redact(str(v))[:6000]) for k, v in params.items() if k not in existing]
        if new:
            self.client.log_batch(run_id, params=new)

    def _tags(self, run_id: str, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, redact(str(v))[:7000])
                                            for k, v in tags.items()])

    def apply(self, event: dict[str, Any]) -> None:
        getattr(self, f"_on_{EventKind(event['kind']).value}")(event)

    def _on_sweep_start(self, event: dict[str, Any]) -> None:
        run_id = self.parent_run()
        self.client.update_run(run_id, status="RUNNING")
        self._tags(run_id, {"sweeper.spec_hash": event["spec_hash"],
                            "sweeper.status": Status.RUNNING.value,
                            "sweeper.planned_trials": event["planned"]})
        self.client.log_text(run_id, redact(event["spec_text"]), "sweep.yaml")

    def _on_trial_start(self, event: dict[str, Any]) -> None:
        run_id = self.trial_run(event["trial_id"], event["number"])
        self.client.update_run(run_id, status="RUNNING")
        self._params(run_id, event["params"])
        self._tags(run_id, {"sweeper.status": Status.RUNNING.value, "sweeper.seed": event["seed"]})

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
            self.client.log_text(run_id, redact(event["error"]), "error.txt")
        if event.get("diagnosis"):  # each finding: code, severity, epoch, evidence, fix
            self.client.log_text(run_id, json.dumps(event["diagnosis"], indent=2),
                                 DIAGNOSIS_ARTIFACT)
        self.client.set_terminated(run_id, RUN_STATUS[Status(event["status"])])

    def _on_interrupted(self, event: dict[str, Any]) -> None:
        from mlflow.entities import RunStatus

        for trial_id in event["open_trials"]:
            run_id = self.trial_run(trial_id)
            if self.client.get_run(run_id).info.status == RunStatus.to_string(RunStatus.RUNNING):
                self._tags(run_id, {"sweeper.status": TrackedStatus.INTERRUPTED.value})
                self.client.set_terminated(run_id, "KILLED")
        self._tags(self.parent_run(), {"sweeper.status": SweepStatus.INTERRUPTED.value})
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
            self._tags(run.info.run_id, {"sweeper.status": TrackedStatus.SUPERSEDED.value})
            if run.info.status == "RUNNING":
                self.client.set_terminated(run.info.run_id, "KILLED")
            self.client.delete_run(run.info.run_id)
            self.runs.pop(str(trial_id), None)

    def _on_sweep_end(self, event: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        run_id = self.parent_run()
        # an extended sweep's end runs again: its summary at the next step (the event's
        # time, so that a replay writes the same points)
        now, step = int(event.get("at_ms") or time.time() * 1000), int(event.get("step", 0))
        metrics = [Metric(f"trials_{status}", float(n), now, step)
                   for status, n in event["counts"].items()]
        if event.get("best_score") is not None:
            metrics.append(Metric("best_score", float(event["best_score"]), now, step))
            metrics.append(Metric("best_trial_number", float(event["best_number"]), now,
                                  step))
        test = event.get("test")
        if test:  # the exported best model on the test split, beside its validation score
            test_metrics = [Metric(k, float(v), now, step)
                            for k, v in test["metrics"].items()]
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
        ended_well = event["status"] in (SweepStatus.FINISHED, SweepStatus.STOPPED)
        self.client.set_terminated(run_id, "FINISHED" if ended_well else "FAILED")

    def _on_budget(self, event: dict[str, Any]) -> None:
        limit = event.get("time_limit_s")
        self._tags(self.parent_run(), {"sweeper.planned_trials": event["planned"],
                                       "sweeper.time_limit_s": "" if limit is None
                                       else f"{float(limit):.0f}"})

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
        store = MlflowStore(config, sweep)
        run_id = store.parent_run()
        for path in paths:
            store.client.log_artifact(run_id, str(path), folder)
        return True
    except Exception:  # the tables and files on disk are what matter here
        return False
