"""What a user watches during a sweep: a line per finished trial and a periodic summary
(trials by status, best so far, elapsed, ETA). ``--quiet`` keeps only the summaries."""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from ray.tune import Callback
from ray.tune.progress_reporter import TrialProgressCallback

from sweeper.objective import Objective
from sweeper.status import Reason, Status
from sweeper.store.best import best_trial
from sweeper.store.tables import DIAGNOSIS_COLUMN

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

    from sweeper.observe.recorder import SweepRecorder
from sweeper.pruning.budget import SweepBudget

__all__ = ["ProgressPrinter", "TuneTrialLinesOff"]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _last_error(trial: Trial) -> str:
    """First line of the trial's latest failure, as Tune wrote it to its error file."""
    try:
        text = Path(trial.error_file).read_text() if trial.error_file else ""
    except OSError:
        return "error file unreadable"
    blocks = text.split("Failure # ")
    lines = blocks[-1].splitlines()[1:] if blocks[-1] else []
    first = next((line.strip() for line in lines if line.strip()), "no message")
    return first if len(first) <= 160 else first[:157] + "..."


def _error_line(row: dict[str, Any], trial: Trial) -> str:
    """A failed trial's last error line (the exception and its message), so the user sees why;
    a launched infeasible trial's constraint (which limit, by how much)."""
    if row.get("status") not in (Status.FAILED, Status.INFEASIBLE):
        return ""
    error = str(row.get("error") or "")
    if trial.error_file and error == str(trial.error_file):  # Tune's error, not the trial's
        return f": {_last_error(trial)}"
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    return ": " + (last if len(last) <= 200 else last[:197] + "...")


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressPrinter(Callback):
    """Prints progress from the recorder's rows; stays quiet between events."""

    def __init__(self, recorder: SweepRecorder, planned: int, objective: Objective,
                 quiet: bool = False, every_s: float = 30.0,
                 budget: SweepBudget | None = None) -> None:
        self.recorder = recorder
        self.budget = budget  # a time limit bounds the ETA
        self.planned = planned
        self.objective = objective
        self.metric = objective.metric
        self.quiet = quiet
        self.every_s = every_s
        self._last = time.monotonic()

    @property
    def planned_now(self) -> int:
        """The trial budget, as ``sweeper extend`` may have grown it."""
        trials = getattr(self.budget, "trials", None)
        return int(trials) if trials is not None else self.planned

    def summary(self) -> str:
        rows = list(self.recorder.rows.values())
        counts = Counter(r["status"] for r in rows)
        done = sum(n for s, n in counts.items() if Status(s).terminal)
        elapsed = self.recorder.now()
        planned = self.planned_now
        left = None if not done else elapsed / done * max(planned - done, 0)
        budget = self.budget
        if budget is not None and budget.time_limit_s is not None:  # it may end first
            remaining = max(budget.time_limit_s - budget.spent_s(), 0.0)
            left = remaining if left is None else min(left, remaining)
        eta = "?" if left is None else _clock(left)
        # the live line keeps the best on the first objective, even in a multi-objective
        # sweep: a pick rule's choice (store.pareto.sweep_best) moves as the front grows and
        # is named at the end, by status, export and the best-model artifact
        best = best_trial(pd.DataFrame(rows), self.objective) if rows else None
        best_text = (f"best {self.metric} {best.score:.4f} (trial {best.number})"
                     if best else "no score yet")
        by_status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return (f"[{_clock(elapsed)}] {done}/{planned} trials done ({by_status or 'none'}); "
                f"{best_text}; ETA {eta}")

    def _print(self, text: str) -> None:
        print(text, file=sys.stdout, flush=True)

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            self._print(self.summary())

    def _trial_line(self, trial: Trial) -> None:
        row = self.recorder.rows.get(trial.trial_id)
        if row is None or self.quiet:
            return
        score = f" {self.metric} {float(row['score']):.4f}" if _finite(row.get("score")) else ""
        codes = row.get(DIAGNOSIS_COLUMN) or ""
        reason = f" ({row['reason']})" if row.get("reason") else ""
        if codes and row.get("reason") == Reason.DIAGNOSIS:
            reason, codes = f" ({Reason.DIAGNOSIS.value}: {codes})", ""
        found = f"; diagnosis: {codes}" if codes else ""
        self._print(f"[{_clock(self.recorder.now())}] trial {row['number']} {row['status']}"
                    f"{reason} after {row['epochs']} epoch(s){score}{found}"
                    f"{_error_line(row, trial)}")

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial,
                          **info: Any) -> None:
        self._trial_line(trial)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        self._trial_line(trial)

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial,
                         **info: Any) -> None:
        """Tune retries a trial whose worker died (a lost node, a killed process): one line,
        in place of Tune's traceback; the full error stays in the trial's error file."""
        row = self.recorder.rows.get(trial.trial_id, {})
        self._print(
            f"[{_clock(self.recorder.now())}] trial {row.get('number', trial.trial_id)} lost "
            f"its worker after {row.get('epochs', 0)} epoch(s) ({_last_error(trial)}); "
            f"retrying from its last checkpoint (failure {trial.run_metadata.num_failures} "
            f"of at most {trial.max_failures})")

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self._print(self.summary())


class TuneTrialLinesOff(TrialProgressCallback):
    """Stands in for Tune's per-trial printer, which Tune adds unless one is given and which
    prints "Trial ... completed. Last result:" for each trial the sweep ends itself: the
    ProgressPrinter already says so in sweeper's words."""

    def _print(self, msg: str) -> None:
        return None
