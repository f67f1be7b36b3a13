"""The Pareto front of a sweep, and "the best trial" of any sweep: defined here once.

A single-objective sweep's best trial is ``best_trial`` on its objective (store.best),
exactly as before. A multi-objective sweep has no single best; its *front* is its
non-dominated trials, and a ``Pick`` rule names the one that counts as "the best" for
``status``, the exported best model, ``--register-model``, ``export``, ``compare``, the API
and MLflow's parent run:

* ``best:METRIC``: the front's best value of one objective (ties: the lower trial number);
* ``smallest-within:DELTA``: the front's trials whose first objective is within DELTA of
  the front's best first objective (inclusive), and of them the fewest ``param_count``
  (ties: the better first objective, then the lower trial number). A front without any
  ``param_count`` is sized by ``flops``; without either the rule is refused.

No ``pick`` in a multi-objective sweep means ``best:<first objective>``. A single-objective
sweep's front is over its objective and ``param_count`` (min), the trade-off worth seeing;
a ``pick`` there (or ``--pick``) chooses from that front.

A trial is on the front when it is scored (``scored_trials``: completed, stopped early or
pruned, with a finite score; never failed or infeasible), has a value of every front
objective, and no such trial dominates it (at least as good on every objective and better on
one). Equal trials do not dominate each other: both stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sweeper.config.problems import did_you_mean
from sweeper.errors import UserInputError
from sweeper.objective import EPOCH_SECONDS, FLOPS, PARAM_COUNT, Objective, Pick, PickRule
from sweeper.store.best import BestTrial, best_trial, scored_trials
from sweeper.store.tables import objective_column, objective_values

if TYPE_CHECKING:
    from sweeper.config.schema import SweepSpec

__all__ = ["SIZE_COLUMNS", "as_pick", "describe_values", "dominated", "format_value",
           "front_objectives", "pareto_front", "pick_trial", "sweep_best", "sweep_pick"]

SIZE_COLUMNS = (PARAM_COUNT, FLOPS)  # what smallest-within sizes a model by, in that order
_BLOCK = 512  # rows compared at once against all: memory stays about 2 x _BLOCK x rows bytes


def front_objectives(objectives: tuple[Objective, ...]) -> tuple[Objective, ...]:
    """The objectives a sweep's front is over: a multi-objective sweep's own; a
    single-objective sweep's one and ``param_count`` (min)."""
    if not objectives:
        raise ValueError("a sweep has at least one objective")
    if len(objectives) > 1:
        return tuple(objectives)
    return (objectives[0], Objective.of(PARAM_COUNT, "min"))


def _values(frame: pd.DataFrame, objective: Objective, first: bool) -> np.ndarray:
    """One objective's values as numbers (NaN where a row has none)."""
    column = objective_column(objective, first)
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _losses(frame: pd.DataFrame, objectives: tuple[Objective, ...]) -> np.ndarray:
    """Rows by objectives, lower is better (maximised objectives negated)."""
    columns = [_values(frame, o, i == 0) * (-1.0 if o.maximize else 1.0)
               for i, o in enumerate(objectives)]
    return np.column_stack(columns).reshape(len(frame), len(objectives))


def dominated(losses: np.ndarray) -> np.ndarray:
    """For each row of ``losses`` (lower is better), whether another row is no worse on
    every column and better on one. Vectorised in blocks (Optuna's non-domination sort is
    private API): 3,000 trials of 3 objectives take about 50 ms."""
    rows, columns = losses.shape
    out = np.zeros(rows, dtype=bool)
    for start in range(0, rows, _BLOCK):
        part = losses[start:start + _BLOCK]  # this block's rows against every row
        no_worse = np.ones((len(part), rows), dtype=bool)
        better = np.zeros((len(part), rows), dtype=bool)
        for column in range(columns):
            theirs, ours = losses[None, :, column], part[:, column, None]
            no_worse &= theirs <= ours
            better |= theirs < ours
        out[start:start + _BLOCK] = np.any(no_worse & better, axis=1)
    return out


def pareto_front(trials: pd.DataFrame, objectives: tuple[Objective, ...]) -> pd.DataFrame:
    """The front's rows of ``trials`` (every column kept), best first on the first objective
    (ties: the lower trial number). ``objectives``: the sweep's (see ``front_objectives``)."""
    front = front_objectives(objectives)
    scored = scored_trials(trials)
    if scored.empty:
        return scored
    losses = _losses(scored, front)
    valued = np.isfinite(losses).all(axis=1)
    candidates, losses = scored[valued], losses[valued]
    keep = ~dominated(losses)
    members, kept = candidates[keep], losses[keep]
    numbers = pd.to_numeric(members["number"], errors="coerce").to_numpy(dtype=float)
    return members.iloc[np.lexsort((numbers, kept[:, 0]))]


def _named(front: tuple[Objective, ...], metric: str) -> tuple[Objective, bool]:
    for index, objective in enumerate(front):
        if objective.metric == metric:
            return objective, index == 0
    metrics = [o.metric for o in front]
    raise UserInputError(f"pick best:{metric}: {metric!r} is not an objective of this sweep's "
                         f"Pareto front; expected one of "
                         + ", ".join(f"best:{m}" for m in metrics) + did_you_mean(metric, metrics))


def _size(candidates: pd.DataFrame, rule: Pick) -> np.ndarray:
    """The candidates' sizes: param_count where any has one, else flops (unknown: last)."""
    for column in SIZE_COLUMNS:
        if column in candidates:
            sizes = pd.to_numeric(candidates[column], errors="coerce").to_numpy(dtype=float)
            if np.isfinite(sizes).any():
                return np.where(np.isfinite(sizes), sizes, np.inf)  # unknown sizes last
    raise UserInputError(f"pick {rule}: no trial on the Pareto front records its param_count "
                         "or flops, so none is smallest; pick one by best:METRIC instead")


def pick_trial(trials: pd.DataFrame, objectives: tuple[Objective, ...],
               pick: Pick) -> BestTrial | None:
    """The front's trial that ``pick`` names (None when the front is empty). A rule that
    cannot apply (best: a metric off the front; smallest-within: no sizes) raises
    UserInputError."""
    front_of = front_objectives(objectives)
    head = front_of[0]
    objective, first = _named(front_of, str(pick.metric)) if pick.rule == PickRule.BEST \
        else (head, True)
    front = pareto_front(trials, objectives)
    if front.empty:
        return None
    numbers = pd.to_numeric(front["number"], errors="coerce").to_numpy(dtype=float)
    if pick.rule == PickRule.BEST:
        losses = _values(front, objective, first) * (-1.0 if objective.maximize else 1.0)
        return BestTrial.of(front.iloc[int(np.lexsort((numbers, losses))[0])].to_dict())
    firsts = _values(front, head, True) * (-1.0 if head.maximize else 1.0)
    best = float(firsts.min())
    # inclusive; the slack keeps a trial exactly DELTA away that a float subtraction's
    # rounding would drop (0.85 - 0.84 > 0.01)
    slack = float(pick.within or 0.0) + 1e-9 * max(1.0, abs(best))
    within = np.flatnonzero(firsts - best <= slack)
    candidates = front.iloc[within]
    order = np.lexsort((numbers[within], firsts[within], _size(candidates, pick)))
    return BestTrial.of(candidates.iloc[int(order[0])].to_dict())


def as_pick(value: Pick | str, flag: str = "pick") -> Pick:
    """A rule as given: a Pick, or its text (bad text: UserInputError with Pick.parse's
    message, prefixed with ``flag``)."""
    if isinstance(value, Pick):
        return value
    try:
        return Pick.parse(value)
    except ValueError as exc:
        raise UserInputError(f"{flag}: {exc}") from None


def sweep_pick(spec: SweepSpec, pick: Pick | None = None) -> Pick | None:
    """The rule that chooses a sweep's best trial: ``pick`` (e.g. ``--pick``), else the
    spec's ``pick``, else best on the first objective in a multi-objective sweep; None for
    a single-objective sweep without one (its best is ``best_trial``'s, as always)."""
    if pick is not None:
        return pick
    if spec.pick is not None:
        return spec.pick
    if spec.multi_objective:
        return Pick(PickRule.BEST, metric=spec.objectives[0].metric)
    return None


def sweep_best(trials: pd.DataFrame, spec: SweepSpec,
               pick: Pick | None = None) -> BestTrial | None:
    """The sweep's best trial, the one rule every caller follows (see the module's text)."""
    rule = sweep_pick(spec, pick)
    if rule is None:
        return best_trial(trials, spec.objectives[0])
    return pick_trial(trials, spec.objectives, rule)


def format_value(metric: str, value: float | None) -> str:
    """An objective's value for people: sizes with thousands separators, seconds to 0.01."""
    if value is None or value != value:
        return "?"
    if metric in SIZE_COLUMNS:
        return f"{value:,.0f}"
    if metric == EPOCH_SECONDS:
        return f"{value:.2f} s"
    return f"{value:.4f}"


def describe_values(row: dict[str, Any], objectives: tuple[Objective, ...]) -> str:
    """``val_accuracy 0.8500, param_count 12,345``: a row's value of each front objective."""
    front = front_objectives(objectives)
    return ", ".join(f"{o.metric} {format_value(o.metric, v)}"
                     for o, v in zip(front, objective_values(row, front), strict=True))
