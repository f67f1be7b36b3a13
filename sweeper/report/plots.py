"""PNG plots of a sweep, from its tables and its Optuna study.

Parallel coordinates and parameter importance are Optuna's own (matplotlib backend, on the
feasible finished trials; a multi-objective study's on its first objective); the plots over
time and epochs, and the Pareto front, are drawn from the tables.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd

from sweeper.objective import Objective, Pick
from sweeper.status import Status
from sweeper.store.best import BestTrial, scored_trials
from sweeper.store.pareto import SIZE_COLUMNS, front_objectives, pareto_front
from sweeper.store.study import INFEASIBLE_ATTR, WARM_START_ATTR
from sweeper.store.tables import objective_column

__all__ = ["PLOTS", "make_plots"]

STATUS_COLORS = {Status.COMPLETED: "tab:green", Status.STOPPED_EARLY: "tab:blue",
                 Status.PRUNED: "tab:orange", Status.FAILED: "tab:red",
                 Status.RUNNING: "tab:gray", Status.PAUSED: "tab:purple"}
PLOTS = ("optimization_history", "parallel_coordinates", "param_importances",
         "learning_curves", "objective_vs_params", "pareto")  # pareto: where a pick rule
# chooses the best (a multi-objective sweep, or a pick)


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
    scored = trials[trials["score"].notna()].set_index("trial_id")
    if "param_count" in scored:  # trials.csv's own column (every trial's count)
        joined = scored[scored["param_count"].notna()]
    elif history.empty or "param_count" not in history:
        _empty(ax, "no parameter counts recorded yet")
        return _save(fig, path)
    else:  # a sweep recorded before trials.csv had the column
        counts = history.groupby("trial_id")["param_count"].first()
        joined = scored.join(counts, how="inner")
    if joined.empty:
        _empty(ax, "no parameter counts recorded yet")
        return _save(fig, path)
    for state, rows in joined.groupby("status"):
        ax.scatter(rows["param_count"], rows["score"], label=state,
                   color=STATUS_COLORS.get(Status(str(state)), "black"))
    ax.set_xscale("log")
    ax.set(xlabel="trainable parameters (log)", ylabel=f"best {metric}",
           title="Objective against model size")
    ax.legend()
    return _save(fig, path)


def _column(frame: pd.DataFrame, objective: Objective, first: bool) -> pd.Series:
    name = objective_column(objective, first)
    if name not in frame:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[name], errors="coerce")


def pareto_plot(trials: pd.DataFrame, objectives: tuple[Objective, ...],
                picked: BestTrial | None, rule: Pick | None, path: Path) -> Path:
    """Every scored trial by the front's first two objectives (the first up, the second
    across), the front highlighted and joined by a step line, the picked trial starred."""
    front_of = front_objectives(objectives)
    up, across = front_of[0], front_of[1]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    scored = scored_trials(trials)
    ys, xs = _column(scored, up, True), _column(scored, across, False)
    valued = np.isfinite(ys) & np.isfinite(xs)
    if not valued.any():
        _empty(ax, f"no scored trial has both {up.metric} and {across.metric} yet")
        return _save(fig, path)
    ax.scatter(xs[valued], ys[valued], s=18, color="tab:gray", alpha=0.6, label="scored trials")
    front = pareto_front(trials, objectives)
    fy, fx = _column(front, up, True), _column(front, across, False)
    order = np.argsort(fx.to_numpy() * (-1.0 if across.maximize else 1.0), kind="stable")
    ax.step(fx.iloc[order], fy.iloc[order], where="post", color="tab:red", alpha=0.8)
    ax.scatter(fx, fy, s=36, color="tab:red", label=f"Pareto front ({len(front)})", zorder=3)
    if picked is not None:
        px = _column(pd.DataFrame([picked.row]), across, False).iloc[0]
        if np.isfinite(px):
            ax.scatter([px], [picked.score], s=260, marker="*", color="gold",
                       edgecolors="black", zorder=4,
                       label=f"picked: trial {picked.number}" + (f" ({rule})" if rule else ""))
    if across.metric in SIZE_COLUMNS and bool((xs[valued] > 0).all()):
        ax.set_xscale("log")
    title = f"Pareto front: {up.metric} against {across.metric}"
    if len(front_of) > 2:
        title += f" (the front is over all {len(front_of)} objectives; the first two shown)"
    ax.set(xlabel=f"{across.metric} ({across.direction})", ylabel=f"{up.metric} "
           f"({up.direction})", title=title)
    ax.legend()
    return _save(fig, path)


def make_plots(folder: Path, study: optuna.Study, trials: pd.DataFrame,
               history: pd.DataFrame, objective: Objective,
               objectives: tuple[Objective, ...] = (), rule: Pick | None = None,
               picked: BestTrial | None = None) -> list[Path]:
    """Write every plot of a sweep to ``folder/plots``; returns the files. With ``rule``
    (the pick that chose the best: ``store.pareto.sweep_pick``), also pareto.png over
    ``objectives`` (default: ``objective``'s front), starring ``picked``."""
    metric = objective.metric
    out = folder / "plots"
    out.mkdir(parents=True, exist_ok=True)
    visual = optuna.visualization.matplotlib
    first: dict[str, Any] = {}
    if len(study.directions) > 1:  # Optuna plots one target: the first objective's
        first = {"target": lambda t: t.values[0], "target_name": metric}
    paths = [
        optimization_history(history, objective, out / "optimization_history.png"),
        _optuna_plot(study, out / "parallel_coordinates.png",
                     lambda s: visual.plot_parallel_coordinate(s, **first),
                     "parallel coordinates"),
        _optuna_plot(study, out / "param_importances.png",
                     lambda s: visual.plot_param_importances(s, **first),
                     "parameter importance"),
        learning_curves(history, trials, metric, out / "learning_curves.png"),
        objective_vs_params(history, trials, metric, out / "objective_vs_params.png"),
    ]
    if rule is not None:
        paths.append(pareto_plot(trials, objectives or (objective,), picked, rule,
                                 out / "pareto.png"))
    return paths
