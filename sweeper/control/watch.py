"""``sweeper status NAME --watch``: a live view from the sweep's own files (trials.csv,
history.csv, sweep.json, the heartbeat), redrawn every few seconds until the sweep ends.
Reads only: it works from any terminal that sees the runs dir, without Ray or TensorFlow."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from sweeper.search.space import planned_trials
from sweeper.status import Status, SweepStatus
from sweeper.store.layout import HISTORY_CSV, TRIALS_CSV
from sweeper.store.pareto import sweep_best
from sweeper.store.specs import load_spec_for
from sweeper.store.sweep_view import SweepView, view_sweep
from sweeper.store.tables import read_table

__all__ = ["live_frames", "live_view"]

LIVE = (Status.RUNNING.value, Status.PAUSED.value)


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def live_view(name: str, runs_dir: Path, now: float | None = None,
              view: SweepView | None = None) -> str:
    """One frame: the sweep and its driver, trials by status, the best so far, and each
    running trial with its epoch, last value and an estimate of its end."""
    view = view or view_sweep(name, runs_dir)
    spec = load_spec_for(name, runs_dir).spec
    meta = view.meta
    now = time.time() if now is None else now
    trials = read_table(view.folder / TRIALS_CSV)
    history = read_table(view.folder / HISTORY_CSV)
    budget = meta.trial_budget if meta.trial_budget is not None else planned_trials(spec)
    lines = view.head_lines(trials, budget, f", started {_clock(now - meta.started_at)} ago")
    if trials.empty:
        return "\n".join(lines)
    best = sweep_best(trials, spec)
    metric = spec.primary.metric
    lines.append(f"best: trial {best.number} {metric} {best.score:.4f} at epoch "
                 f"{best.best_epoch} ({best.status})" if best is not None else
                 "best: no trial has a score yet")
    running = trials[trials["status"].isin(LIVE)].sort_values("number")
    if not running.empty:
        lines.append("running:")
        elapsed = now - meta.started_at
        for row in running.to_dict("records"):
            lines.append("  " + _running_line(row, history, metric, spec.budget.max_epochs,
                                              elapsed))
    return "\n".join(lines)


def _running_line(row: dict[str, object], history: pd.DataFrame, metric: str,
                  max_epochs: int, elapsed_s: float) -> str:
    epochs = int(float(str(row.get("epochs") or 0)))
    own = history[history["trial_id"] == row["trial_id"]] if not history.empty else history
    last = own.sort_values("epoch").iloc[-1] if not own.empty else None
    value = "-"
    if last is not None and metric in own.columns and _finite(last[metric]):
        value = f"{float(last[metric]):.4f}"
    left = "starting"
    started = _number(row.get("started_s"))
    if epochs > 0 and started is not None and last is not None:
        per_epoch = (float(last["seconds"]) - started) / epochs
        ends_in = per_epoch * (max_epochs - epochs) - (elapsed_s - float(last["seconds"]))
        left = f"ends in ~{_clock(ends_in)} at most" if epochs < max_epochs else "ending"
    status = "" if row["status"] == Status.RUNNING.value else f" ({row['status']})"
    return (f"trial {row['number']}{status}: epoch {epochs}/{max_epochs}, {metric} {value}, "
            f"{left}")


def _finite(value: object) -> bool:
    number = _number(value)
    return number is not None and math.isfinite(number)


def _number(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return None if math.isnan(number) else number


def live_frames(name: str, runs_dir: Path, every_s: float = 2.0,
                sleep: Callable[[float], None] = time.sleep) -> Iterator[tuple[str, SweepView]]:
    """Frames until the sweep is no longer running (it ended, or its driver died); the
    last frame shows how it ended."""
    while True:
        view = view_sweep(name, runs_dir)
        yield live_view(name, runs_dir, view=view), view
        if view.status != SweepStatus.RUNNING:
            return
        sleep(every_s)
