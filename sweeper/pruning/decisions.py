"""Scheduler decisions per trial, and the one rule that turns them into a final status.

A trial's status comes from what was decided about it, not from Tune's TERMINATED: the log
is appended to ``decisions.jsonl`` so it survives a driver crash. A line torn by that crash
is dropped (and cut off before the next append); a damaged line in the middle is skipped and
kept in ``skipped`` for the caller to report: one lost decision changes at most one trial's
reason, while refusing the file would leave the sweep impossible to resume.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sweeper.result import TrialResult
from sweeper.status import Decision, Reason, Status
from sweeper.store import jsonlog

__all__ = ["FAILING_REASONS", "DecisionEntry", "DecisionLog", "final_status",
           "infrastructure_reason"]


@dataclass(frozen=True)
class DecisionEntry:
    """One line of ``decisions.jsonl``: what the scheduler ``by`` decided about a trial,
    after how many of its epochs."""

    trial_id: str
    decision: Decision
    epoch: int
    by: str  # the scheduler's kind, or what ended the trial (the budget, the memory check)
    reason: Reason = Reason.NONE  # for Decision.ENDED: the reason the trial's row records

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DecisionEntry:
        return cls(str(raw["trial_id"]), Decision(raw["decision"]), int(raw["epoch"]),
                   str(raw["by"]), Reason(raw.get("reason", Reason.NONE.value)))


class DecisionLog:
    """Scheduler decisions per trial, appended to a file so they survive a driver crash."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._last: dict[str, DecisionEntry] = {}
        self._load()

    def _load(self) -> None:
        self._last = {}
        self._repaired = False
        log = jsonlog.read(self.path)
        problems = [(bad.number, bad.problem) for bad in log.bad]
        for number, raw in log.entries:
            try:
                entry = DecisionEntry.from_json(raw)
            except (KeyError, TypeError, ValueError) as exc:
                problems.append((number, f"not a decision ({type(exc).__name__}: {exc})"))
                continue
            self._last[entry.trial_id] = entry
        # "decisions.jsonl:LINE: why; skipped", one per damaged line, for the caller to warn
        self.skipped: list[str] = [f"{self.path.name}:{number}: {problem}; skipped"
                                   for number, problem in sorted(problems)]

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._load()

    def record(self, trial_id: str, decision: Decision, epoch: int, by: str,
               reason: Reason = Reason.NONE) -> None:
        entry = DecisionEntry(trial_id, decision, epoch, by, reason)
        self._last[trial_id] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._repaired:  # a line torn by a crash must not swallow this one
            jsonlog.repair(self.path)
            self._repaired = True
        jsonlog.append(self.path, asdict(entry))

    def last(self, trial_id: str) -> DecisionEntry | None:
        return self._last.get(trial_id)

    def paused_at(self, trial_id: str, epoch: int) -> bool:
        """Whether the latest decision about the trial paused it at ``epoch``."""
        last = self.last(trial_id)
        return last is not None and last.decision == Decision.PAUSED and last.epoch == epoch

    def withdrawn(self, trial_id: str) -> bool:
        """Whether the trial was waiting to start when the sweep stopped (it never ran: no
        row, no MLflow run; Optuna holds it as an orphan and asks its values again)."""
        last = self.last(trial_id)
        return last is not None and last.decision == Decision.WITHDRAWN

    def ended(self, trial_id: str) -> DecisionEntry | None:
        """The sweep's own decision to end the trial (time limit, stop, memory), if any."""
        last = self.last(trial_id)
        return last if last is not None and last.decision == Decision.ENDED else None


# What Ray says when its memory monitor kills a worker (the error is an OutOfMemoryError,
# or an ActorDiedError carrying this text). A kill by the kernel's OOM killer reaches Ray as
# a plain worker death it cannot tell from any other SIGKILL: that stays worker_died.
RAY_MEMORY_KILL = ("running low on memory", "OutOfMemoryError")


def infrastructure_reason(error: BaseException | str | None) -> Reason:
    """The reason for a trial whose worker Tune lost: ``oom`` when Ray killed it for memory
    (retrying would only fill the memory again), else ``worker_died``."""
    names = []
    current: object = error
    for _ in range(8):  # the exception, and what Ray wrapped in it
        if not isinstance(current, BaseException):
            break
        names.append(type(current).__name__)
        current = getattr(current, "cause", None) or current.__cause__
    text = " ".join(names) + " " + str(error or "")
    return Reason.OOM if any(marker in text for marker in RAY_MEMORY_KILL) else Reason.WORKER_DIED


# Reasons the sweep ends a trial with that make it a failure rather than a pruned trial
FAILING_REASONS = (Reason.OOM, Reason.WORKER_DIED, Reason.NOT_PLACED, Reason.ERROR)


def final_status(decisions: DecisionLog, trial_id: str, result: TrialResult | None,
                 error: Reason | None = None) -> tuple[Status, Reason]:
    """The one rule for a finished trial's status (used by the searcher and the tables).

    ``error``: the reason of an infrastructure failure Tune reported (a dead worker, a
    worker killed for memory, a trial it could not place)."""
    reported = result.status if result is not None else Status.RUNNING
    if reported == Status.FAILED:
        assert result is not None
        return Status.FAILED, result.reason or Reason.ERROR
    if reported == Status.INFEASIBLE:  # over a hard constraint once built or timed
        assert result is not None
        return Status.INFEASIBLE, result.reason or Reason.CONSTRAINT
    if error is not None:
        return Status.FAILED, error
    if reported in (Status.COMPLETED, Status.STOPPED_EARLY):
        return reported, Reason.NONE
    if reported == Status.PRUNED:  # the trial pruned itself: a severe diagnosis
        assert result is not None
        return Status.PRUNED, result.reason or Reason.DIAGNOSIS
    last = decisions.last(trial_id)
    if last is not None and last.decision == Decision.ENDED:
        status = Status.FAILED if last.reason in FAILING_REASONS else Status.PRUNED
        return status, last.reason
    if last is not None and last.decision == Decision.PRUNED:
        return Status.PRUNED, Reason.SCHEDULER
    # Tune stopped it and no decision says why (e.g. HyperBand closing an unfilled bracket
    # through a path sweeper does not see): the sweep ended it
    return Status.PRUNED, Reason.SWEEP_STOPPED
