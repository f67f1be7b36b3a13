"""Scheduler decisions per trial, and the one rule that turns them into a final status.

A trial's status comes from what was decided about it, not from Tune's TERMINATED: the log
is appended to ``decisions.jsonl`` so it survives a driver crash.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sweeper.result import TrialResult
from sweeper.status import Decision, Reason, Status

__all__ = ["DecisionEntry", "DecisionLog", "final_status"]


@dataclass(frozen=True)
class DecisionEntry:
    """One line of ``decisions.jsonl``: what the scheduler ``by`` decided about a trial,
    after how many of its epochs."""

    trial_id: str
    decision: Decision
    epoch: int
    by: str  # the scheduler's kind

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DecisionEntry:
        return cls(str(raw["trial_id"]), Decision(raw["decision"]), int(raw["epoch"]),
                   str(raw["by"]))


class DecisionLog:
    """Scheduler decisions per trial, appended to a file so they survive a driver crash."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._last: dict[str, DecisionEntry] = {}
        self._load()

    def _load(self) -> None:
        self._last = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    entry = DecisionEntry.from_json(json.loads(line))
                    self._last[entry.trial_id] = entry

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._load()

    def record(self, trial_id: str, decision: Decision, epoch: int, by: str) -> None:
        entry = DecisionEntry(trial_id, decision, epoch, by)
        self._last[trial_id] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(asdict(entry)) + "\n")

    def last(self, trial_id: str) -> DecisionEntry | None:
        return self._last.get(trial_id)

    def paused_at(self, trial_id: str, epoch: int) -> bool:
        """Whether the latest decision about the trial paused it at ``epoch``."""
        last = self.last(trial_id)
        return last is not None and last.decision == Decision.PAUSED and last.epoch == epoch


def final_status(decisions: DecisionLog, trial_id: str, result: TrialResult | None,
                 error: bool) -> tuple[Status, Reason]:
    """The one rule for a finished trial's status (used by the searcher and the tables)."""
    if error:
        return Status.FAILED, Reason.WORKER_DIED
    reported = result.status if result is not None else Status.RUNNING
    if reported == Status.FAILED:
        assert result is not None
        return Status.FAILED, result.reason or Reason.ERROR
    last = decisions.last(trial_id)
    if last is not None and last.decision == Decision.PRUNED and reported == Status.RUNNING:
        return Status.PRUNED, Reason.SCHEDULER
    if reported in (Status.COMPLETED, Status.STOPPED_EARLY):
        return reported, Reason.NONE
    return Status.PRUNED, Reason.TIME_LIMIT  # stopped by the sweep's time budget
