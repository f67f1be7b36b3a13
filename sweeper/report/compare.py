"""Sweeps side by side: best objective, trials by status, wall time, epochs, time to best."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sweeper.status import Status
from sweeper.store.layout import existing_sweep
from sweeper.store.meta import SweepMeta
from sweeper.store.pareto import sweep_best
from sweeper.store.specs import load_spec_for
from sweeper.store.tables import history_frame, trials_frame

__all__ = ["compare"]


def compare(names: list[str], runs_dir: Path) -> pd.DataFrame:
    rows = []
    for name in names:
        meta = SweepMeta.read(existing_sweep(runs_dir, name))
        trials, history = trials_frame(name, runs_dir), history_frame(name, runs_dir)
        spec = load_spec_for(name, runs_dir).spec
        objective = spec.objectives[0]  # "best" is the sweep's best's first objective
        best = sweep_best(trials, spec)
        test = meta.test_score()
        to_best = None
        if best is not None and not history.empty:
            reached = history[(history["trial_id"] == best.trial_id)
                              & (history["objective"] == best.score)]
            to_best = float(reached["seconds"].min()) if not reached.empty else None
        counts = trials["status"].value_counts().to_dict() if not trials.empty else {}
        rows.append({
            "sweep": name,
            "metric": objective.metric,
            "best": best.score if best else None,
            "best_trial": best.number if best else None,
            "test": test.value if test else None,
            "trials": len(trials),
            **{status.value: int(counts.get(status.value, 0)) for status in Status
               if status.terminal},
            "wall_s": float(trials["ended_s"].max()) if not trials.empty else None,
            "epochs": int(trials["epochs"].sum()) if not trials.empty else 0,
            "to_best_s": to_best,
        })
    return pd.DataFrame(rows)
