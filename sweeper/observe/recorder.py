"""Driver-side record of a sweep: ``trials.csv`` and ``history.csv``, written live.

A Tune callback: Tune saves its state with the experiment state, so after a crash and
``Tuner.restore`` the tables agree with what Tune itself remembers.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from ray.tune import Callback

from sweeper.findings import Finding, join_codes, merge
from sweeper.objective import Objective
from sweeper.pruning.budget import SweepBudget
from sweeper.pruning.decisions import DecisionLog, final_status, infrastructure_reason
from sweeper.result import TrialResult
from sweeper.status import Decision, Reason, Status
from sweeper.store.layout import HISTORY_CSV, TRIALS_CSV
from sweeper.store.tables import (
    COST_COLUMNS,
    DIAGNOSIS_COLUMN,
    is_param_column,
    objective_column,
    param_column,
    read_table,
    write_table,
)

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["NEVER_LAUNCHED_PREFIX", "SweepRecorder"]

NEVER_LAUNCHED_PREFIX = "infeasible_"  # the trial id of a configuration never launched

LEADING_COLUMNS = ["trial_id", "number", "status", "reason", "score", "best_epoch", "epochs",
                   DIAGNOSIS_COLUMN, *COST_COLUMNS]
TRAILING_COLUMNS = ["seed", "node_id", "node_ip", "gpu_ids", "pid", "started_s", "ended_s",
                    "error"]


class SweepRecorder(Callback):
    """Keeps one row per trial and one per (trial, epoch), and writes both as CSV."""

    # what a recorder pickled before sweeps had several objectives lacks (a resumed sweep)
    scores: tuple[tuple[str, str], ...] = ()
    objective_columns: tuple[str, ...] = ()
    consecutive_infeasible = 0

    def __init__(self, folder: Path, decisions: DecisionLog, param_names: list[str],
                 started_at: float, max_consecutive_failed: int, budget: SweepBudget,
                 flush_every_s: float = 2.0, objectives: tuple[Objective, ...] = ()) -> None:
        self.folder = Path(folder)
        # later objectives Keras logs: a score_<metric> column each (costs have their own)
        self.scores = tuple((objective_column(o, False), o.metric) for o in objectives[1:]
                            if not o.is_cost)
        self.objective_columns = tuple(objective_column(o, False) for o in objectives[1:])
        self.decisions = decisions
        self.budget = budget
        self.param_names = list(param_names)
        self.started_at = started_at
        self.max_consecutive_failed = max_consecutive_failed
        self.flush_every_s = flush_every_s
        self.rows: dict[str, dict[str, Any]] = {}
        self.history: dict[str, dict[str, Any]] = {}  # "trial_id:epoch" -> row
        # trial id -> code -> the finding's JSON: its first sighting, or its first severe one
        self.findings: dict[str, dict[str, dict[str, Any]]] = {}
        self.consecutive_failed = 0
        self.consecutive_infeasible = 0  # launched trials over a constraint, in a row
        self._last_flush = 0.0

    # -- Tune's callback state (saved with the experiment state)
    def get_state(self) -> dict[str, Any]:
        return {"rows": self.rows, "history": self.history, "findings": self.findings,
                "consecutive_failed": self.consecutive_failed,
                "consecutive_infeasible": self.consecutive_infeasible}

    def set_state(self, state: dict[str, Any]) -> None:
        self.rows = state["rows"]
        self.history = state["history"]
        self.findings = state.get("findings", {})
        self.consecutive_failed = state["consecutive_failed"]
        self.consecutive_infeasible = state.get("consecutive_infeasible", 0)
        self._keep_ends_written_since()
        self.flush(force=True)

    def _keep_ends_written_since(self) -> None:
        """Trials that ended after Tune's last save (it saves every >= 10 s) are terminal in
        trials.csv on disk but not in the restored state: the row on disk is the truth,
        and the trial is not run again (the scheduler wrapper stops it)."""
        written = read_table(self.folder / TRIALS_CSV)
        if written.empty:
            return
        for row in written.astype(object).where(written.notna(), None).to_dict("records"):
            trial_id = str(row["trial_id"])
            kept = self.rows.get(trial_id)
            if Status(row["status"]).terminal and (
                    kept is None or not Status(kept["status"]).terminal):
                self.rows[trial_id] = {**(kept or {}), **row, "reason": row["reason"] or ""}

    # -- helpers
    def now(self) -> float:
        return round(time.time() - self.started_at, 3)

    def has_row(self, trial_id: str) -> bool:
        """Whether the trial started (or ended) as far as the tables know."""
        return trial_id in self.rows

    @property
    def too_many_failures(self) -> bool:
        return self.consecutive_failed >= self.max_consecutive_failed

    def _row(self, trial: Trial) -> dict[str, Any]:
        row = self.rows.get(trial.trial_id)
        if row is None:
            config = trial.config
            row = {"trial_id": trial.trial_id, "number": config.get("number"),
                   "status": Status.RUNNING.value, "reason": "", "score": None,
                   "best_epoch": 0, "epochs": 0, DIAGNOSIS_COLUMN: "",
                   **dict.fromkeys(COST_COLUMNS),
                   "seed": config.get("seed"), "started_s": self.now(), "ended_s": None,
                   "error": ""}
            row.update({param_column(k): v for k, v in config.get("params", {}).items()})
            self.rows[trial.trial_id] = row
        return row

    # -- Tune callback hooks
    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        row = self._row(trial)
        row["status"] = Status.RUNNING.value
        self.flush()

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial,
                        result: dict[str, Any], **info: Any) -> None:
        record = TrialResult.from_tune(result)
        if record is None:
            return
        row = self._row(trial)
        row["seed"] = record.seed
        self._note(trial.trial_id, row, record.findings)
        for key, value in asdict(record.placement).items():
            if value not in (None, ""):
                row[key] = value
        self._costs(row, record)
        if not record.failed:
            if record.score is not None:
                row["score"] = record.score
                row["best_epoch"] = record.best_epoch
                for column, metric in self.scores:
                    row[column] = record.best_metrics.get(metric)
            row["epochs"] = record.epoch
            entry = {"trial_id": trial.trial_id, "number": row["number"],
                     "seconds": self.now(), **record.history_row()}
            # a trial restarted from a checkpoint reports its later epochs again: keep the last
            self.history[f"{trial.trial_id}:{record.epoch}"] = entry
            if self.decisions.paused_at(trial.trial_id, record.epoch):
                row["status"] = Status.PAUSED.value
        self.flush()

    @staticmethod
    def _costs(row: dict[str, Any], record: TrialResult) -> None:
        for column, value in zip(COST_COLUMNS, (record.param_count, record.flops,
                                                record.mean_epoch_seconds), strict=True):
            if value is not None:
                row[column] = value

    def _note(self, trial_id: str, row: dict[str, Any], findings: tuple[Finding, ...]) -> None:
        """The trial's findings so far: the ``diagnosis`` cell and the MLflow artifact."""
        if not findings:
            return
        seen = [Finding.from_json(f) for f in self.findings.get(trial_id, {}).values()]
        kept = merge([*seen, *findings])
        self.findings[trial_id] = {f.code.value: f.to_json() for f in kept}
        row[DIAGNOSIS_COLUMN] = join_codes([f.code for f in kept])

    def trial_findings(self, trial_id: str) -> list[dict[str, Any]]:
        return list(self.findings.get(trial_id, {}).values())

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial,
                          **info: Any) -> None:
        self._finish(trial, trial.last_result, error=None)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        self._finish(trial, trial.last_result, error=infrastructure_reason(_error_of(trial)))

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial,
                         **info: Any) -> None:
        """A lost worker Tune will retry: unless Ray killed it for memory, which a retry
        would only repeat; then the scheduler wrapper ends it as failed (oom)."""
        if infrastructure_reason(_error_of(trial)) == Reason.OOM:
            epoch = int(self._row(trial).get("epochs") or 0)
            self.decisions.record(trial.trial_id, Decision.ENDED, epoch, "memory", Reason.OOM)

    def _finish(self, trial: Trial, result: dict[str, Any] | None,
                error: Reason | None) -> None:
        if self.decisions.withdrawn(trial.trial_id) and not self.has_row(trial.trial_id):
            return  # it never ran: no row (the searcher took it back)
        row = self._row(trial)
        if Status(row["status"]).terminal:
            return  # it ended before a driver crash; that end is on disk already
        record = TrialResult.from_tune(result)
        status, reason = final_status(self.decisions, trial.trial_id, record, error)
        row["status"], row["reason"] = status.value, reason.value
        row["ended_s"] = self.now()
        if record is not None:
            self._costs(row, record)
        if status == Status.INFEASIBLE and record is not None:
            row["error"] = record.error[-2000:]  # which constraint, by how much
        if status == Status.FAILED:
            detail = (record.error if record is not None else "") or (
                str(_error_of(trial) or "") if error is not None else "")
            row["error"] = str(detail)[-2000:]
            self.consecutive_failed += 1
            if self.too_many_failures:
                self.budget.stop(Reason.SWEEP_STOPPED)
        else:
            self.consecutive_failed = 0
        # launched and over a constraint (too slow, say, on this hardware): as many in a row
        # as failures stop the sweep too, rather than spend its budget on them
        self.consecutive_infeasible = self.consecutive_infeasible + 1 \
            if status == Status.INFEASIBLE else 0
        if self.consecutive_infeasible >= self.max_consecutive_failed:
            self.budget.stop(Reason.SWEEP_STOPPED)
        self.flush(force=True)

    def record_infeasible(self, number: int, params: dict[str, Any], reason: str,
                          seed: int, cost: dict[str, int] | None = None) -> None:
        """A configuration the searcher never launched: its architecture cannot exist, or
        the kind counted it over a constraint (``cost``: what it counted)."""
        trial_id = f"{NEVER_LAUNCHED_PREFIX}{number:05d}"
        row = {"trial_id": trial_id, "number": number, "status": Status.INFEASIBLE.value,
               "reason": reason, "score": None, "best_epoch": 0, "epochs": 0,
               DIAGNOSIS_COLUMN: "", **dict.fromkeys(COST_COLUMNS), **(cost or {}),
               "seed": seed,
               "started_s": self.now(), "ended_s": self.now(), "error": ""}
        row.update({param_column(k): v for k, v in params.items()})
        self.rows[trial_id] = row
        self.flush(force=True)

    # -- files
    def trials_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(list(self.rows.values()))
        if frame.empty:
            return pd.DataFrame(columns=LEADING_COLUMNS + TRAILING_COLUMNS)
        params = [param_column(p) for p in self.param_names if param_column(p) in frame]
        extra = [c for c in frame.columns if is_param_column(c) and c not in params]
        scores = [column for column, _ in self.scores]
        ordered = [c for c in LEADING_COLUMNS + scores + params + extra + TRAILING_COLUMNS
                   if c in frame]
        return frame[ordered].sort_values("number", kind="stable").reset_index(drop=True)

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_flush < self.flush_every_s:
            return
        self._last_flush = now
        self.folder.mkdir(parents=True, exist_ok=True)
        write_table(self.trials_frame(), self.folder / TRIALS_CSV)
        write_table(pd.DataFrame(list(self.history.values())), self.folder / HISTORY_CSV)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.flush(force=True)


def _error_of(trial: Trial) -> BaseException | str | None:
    """The error Tune recorded for the trial (the exception where it could be pickled)."""
    try:
        return trial.get_pickled_error() or trial.get_error()
    except Exception:  # the file may be gone; the reason then is the plain one
        return None
