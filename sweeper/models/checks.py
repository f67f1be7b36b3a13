"""The checks the built-in kinds (``cnn``, the backbones) share: a file's parameter values
against a kind's table of knobs, and whether the kind logs every objective the file names (a
later objective Keras never logs would leave every trial without a value to tell Optuna, so
it is refused where the kind knows its metrics, and by the loop at the first epoch for the
others)."""

from __future__ import annotations

from sweeper.config.loaded import LoadedSpec
from sweeper.config.params import AnyParam, ChoiceParam, FixedParam, FloatParam, IntParam
from sweeper.config.problems import did_you_mean
from sweeper.config.yamlio import PathKey
from sweeper.errors import Problem
from sweeper.models.cnn.catalog import Hyperparameter
from sweeper.objective import COST_METRICS

__all__ = ["unlogged_objectives", "value_problems"]


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


def value_problems(loaded: LoadedSpec, name: str, param: AnyParam,
                  rule: Hyperparameter) -> list[Problem]:
    """The values a parameter can take against its rule (a range: both ends)."""
    if isinstance(param, ChoiceParam | FixedParam):
        items = param.values
        paths: list[PathKey] = (
            [("space", name, "choice", i) for i in range(len(items))]
            if isinstance(param, ChoiceParam) else [("space", name)])
    else:
        if rule.type is str or rule.type is bool or rule.choices is not None:
            return [loaded.problem(("space", name), f"space.{name}: expected "
                                   f"{rule.describe_bounds()}; a numeric range does not fit, "
                                   "use {choice: [...]}")]
        if rule.type is int and isinstance(param, FloatParam):
            return [loaded.problem(("space", name), f"space.{name}: expected whole numbers; "
                                   "use {int: [low, high]} instead of {float: ...}", key=True)]
        items = list(param.range_)
        kind = "int" if isinstance(param, IntParam) else "float"
        paths = [("space", name, kind, i) for i in range(2)]
    problems = []
    for value, path in zip(items, paths, strict=True):
        why = rule.check(value)
        if why:
            hint = did_you_mean(str(value), [str(c) for c in rule.choices or ()])
            problems.append(loaded.problem(path, f"space.{name}: {why}{hint}"))
    return problems
