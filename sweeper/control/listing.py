"""``sweeper list``: every sweep in the runs dir, a row each, from its files alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from sweeper.errors import SweeperError
from sweeper.store.layout import SWEEP_JSON, TRIALS_CSV
from sweeper.store.pareto import sweep_best
from sweeper.store.specs import load_spec_for
from sweeper.store.sweep_view import SweepView
from sweeper.store.tables import read_table

__all__ = ["LIST_COLUMNS", "sweep_list"]

LIST_COLUMNS = ["name", "status", "trials", "by_status", "best", "started"]


def sweep_list(runs_dir: Path) -> pd.DataFrame:
    """A row per sweep, oldest first; a sweep whose files cannot be read says why in its
    row instead of hiding the others."""
    rows = []
    for path in sorted(runs_dir.glob(f"*/{SWEEP_JSON}")):
        folder = path.parent
        try:
            rows.append(_row(folder, runs_dir))
        except (SweeperError, OSError, ValueError, TypeError, KeyError) as exc:
            rows.append({"name": folder.name, "status": "unreadable", "trials": 0,
                         "by_status": "", "best": f"{type(exc).__name__}: {exc}"[:120],
                         "started": "", "_at": float("inf")})
    frame = pd.DataFrame(rows, columns=[*LIST_COLUMNS, "_at"])
    return frame.sort_values("_at", kind="stable").drop(columns="_at").reset_index(drop=True)


def _row(folder: Path, runs_dir: Path) -> dict[str, object]:
    view = SweepView.of(folder)
    spec = load_spec_for(folder.name, runs_dir).spec
    trials = read_table(folder / TRIALS_CSV)
    counts = trials["status"].value_counts() if not trials.empty else pd.Series(dtype=int)
    best = sweep_best(trials, spec) if not trials.empty else None
    started = dt.datetime.fromtimestamp(view.meta.started_at)
    return {"name": folder.name, "status": view.status.value, "trials": len(trials),
            "by_status": ", ".join(f"{n} {s}" for s, n in counts.items()),
            "best": (f"{spec.primary.metric} {best.score:.4f} (trial {best.number})"
                     if best is not None else ""),
            "started": started.strftime("%Y-%m-%d %H:%M:%S"), "_at": view.meta.started_at}
