"""Whether a kind logs every objective a file names: a later objective Keras never logs would
leave every trial without a value to tell Optuna, so it is refused where the kind knows its
metrics (the built-in kinds), and by the loop at the first epoch for the others."""

from __future__ import annotations

from sweeper.config.loaded import LoadedSpec
from sweeper.config.problems import did_you_mean
from sweeper.errors import Problem
from sweeper.objective import COST_METRICS

__all__ = ["unlogged_objectives"]


def unlogged_objectives(loaded: LoadedSpec, logged: tuple[str, ...], who: str) -> list[Problem]:
    """A located problem for each objective that is neither a cost nor in ``logged``."""
    spec = loaded.spec
    many = isinstance(spec.objective, list)
    problems: list[Problem] = []
    for index, objective in enumerate(spec.objective_specs):
        metric = objective.metric
        if metric in COST_METRICS or metric in logged:
            continue
        where = ("objective", index, "metric") if many else ("objective", "metric")
        label = f"objective[{index}].metric" if many else "objective.metric"
        problems.append(loaded.problem(where, f"{label}: {who} logs {', '.join(logged)}; got "
                                              f"{metric!r}" + did_you_mean(metric, logged)))
    return problems
