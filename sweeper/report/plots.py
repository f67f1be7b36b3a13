"""PNG plots of a sweep, from its tables and its Optuna study.

Parallel coordinates and parameter importance are Optuna's own (matplotlib backend, on the
feasible finished trials); the plots over time and epochs are drawn from the tables.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import optuna
import pandas as pd

from sweeper.objective import Objective
from sweeper.status import Status
from sweeper.store.study import INFEASIBLE_ATTR, WARM_START_ATTR

__all__ = ["PLOTS", "make_plots"]

STATUS_COLORS = {Status.COMPLETED: "tab:green", Status.STOPPED_EARLY: "tab:blue",
                 Status.PRUNED: "tab:orange", Status.FAILED: "tab:red",
                 Status.RUNNING: "tab:gray", Status.PAUSED: "tab:purple"}
PLOTS = ("optimization_history", "parallel_coordinates", "param_importances",
         "learning_curves", "objective_vs_params")


def feasible_study(study: optuna.Study) -> optuna.Study:
    """This sweep's finished, feasible trials only (infeasible ones carry a stand-in value;
    a warm start's ran in another sweep)."""
    copy = optuna.create_study(directions=study.directions)
    copy.add_trials([t for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
                     if INFEASIBLE_ATTR not in t.user_attrs
                     and WARM_START_ATTR not in t.user_attrs])
    return copy


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def optimization_history(history: pd.DataFrame, objective: Objective, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if history.empty:
        _empty(ax, "no epoch has finished yet")
        return _save(fig, path)
    ordered = history.sort_values("seconds")
    ax.scatter(ordered["seconds"], ordered["objective"], s=10, alpha=0.4, label="epochs")
    values = ordered["objective"]
    best = values.cummax() if objective.maximize else values.cummin()
    ax.step(ordered["seconds"], best, where="post", color="tab:red", label="best so far")
    ax.set(xlabel="seconds since the sweep started", ylabel=objective.metric,
           title="Optimisation history")
    ax.legend()
    return _save(fig, path)


def _optuna_plot(study: optuna.Study, path: Path, draw: Any, title: str) -> Path:
    feasible = feasible_study(study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ax = draw(feasible)
            fig = ax.figure if hasattr(ax, "figure") else ax[0].figure
            fig.set_size_inches(10, 5)
            return _save(fig, path)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            fig, ax = plt.subplots(figsize=(8, 4.5))
            _empty(ax, f"{title}: needs more finished trials ({exc})")
            return _save(fig, path)


def learning_curves(history: pd.DataFrame, trials: pd.DataFrame, metric: str,
                    path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if history.empty:
        _empty(ax, "no epoch has finished yet")
        return _save(fig, path)
    status = trials.set_index("trial_id")["status"].to_dict()
    seen: set[str] = set()
    for trial_id, rows in history.sort_values("epoch").groupby("trial_id"):
        state = Status(status.get(trial_id, Status.RUNNING))
        ax.plot(rows["epoch"], rows["objective"], color=STATUS_COLORS.get(state, "black"),
                alpha=0.8, marker="o", markersize=3,
                label=state if state not in seen else None)
        seen.add(state)
    ax.set(xlabel="epoch", ylabel=metric, title="Learning curves by status")
    ax.legend()
    return _save(fig, path)


def objective_vs_params(history: pd.DataFrame, trials: pd.DataFrame, metric: str,
                        path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if history.empty or "param_count" not in history:
        _empty(ax, "no parameter counts recorded yet")
        return _save(fig, path)
    counts = history.groupby("trial_id")["param_count"].first()
    scored = trials[trials["score"].notna()].set_index("trial_id")
    joined = scored.join(counts, how="inner")
    for state, rows in joined.groupby("status"):
        ax.scatter(rows["param_count"], rows["score"], label=state,
                   color=STATUS_COLORS.get(Status(str(state)), "black"))
    ax.set_xscale("log")
    ax.set(xlabel="trainable parameters (log)", ylabel=f"best {metric}",
           title="Objective against model size")
    ax.legend()
    return _save(fig, path)


def make_plots(folder: Path, study: optuna.Study, trials: pd.DataFrame,
               history: pd.DataFrame, objective: Objective) -> list[Path]:
    """Write every plot of a sweep to ``folder/plots``; returns the files."""
    metric = objective.metric
    out = folder / "plots"
    out.mkdir(parents=True, exist_ok=True)
    visual = optuna.visualization.matplotlib
    return [
        optimization_history(history, objective, out / "optimization_history.png"),
        _optuna_plot(study, out / "parallel_coordinates.png",
                     lambda s: visual.plot_parallel_coordinate(s), "parallel coordinates"),
        _optuna_plot(study, out / "param_importances.png",
                     lambda s: visual.plot_param_importances(s), "parameter importance"),
        learning_curves(history, trials, metric, out / "learning_curves.png"),
        objective_vs_params(history, trials, metric, out / "objective_vs_params.png"),
    ]
