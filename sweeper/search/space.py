"""From a validated spec to Optuna: distributions, define-by-run sampling, grid points.

Conditional parameters are sampled define-by-run: a parameter is asked of Optuna only
when its condition holds, so samplers never see values that mean nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sweeper.config.params import (
    AnyParam,
    ChoiceParam,
    FixedParam,
    FloatParam,
    IntParam,
    condition_order,
    grid_count,
)
from sweeper.config.schema import SweepSpec

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

__all__ = ["active", "config_of", "distribution", "grid_points", "grid_size", "planned_trials",
           "sample_configs", "suggest"]


def active(param: AnyParam, config: dict[str, Any]) -> bool:
    """Whether a conditional parameter applies, given the values sampled so far."""
    return all(
        other in config and config[other] in wanted
        for other, wanted in param.condition_values().items()
    )


def distribution(param: AnyParam) -> BaseDistribution | None:
    """Optuna's distribution for a searched parameter; None for a fixed one."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(param, ChoiceParam):
        return CategoricalDistribution(param.choice)
    if isinstance(param, IntParam):
        return IntDistribution(*param.range_, log=param.log, step=param.step)
    if isinstance(param, FloatParam):
        return FloatDistribution(*param.range_, log=param.log, step=param.step)
    return None


def suggest(trial: optuna.Trial, space: dict[str, AnyParam]) -> dict[str, Any]:
    """Sample one configuration define-by-run; fixed values are included as they are."""
    config: dict[str, Any] = {}
    for name in condition_order(space):
        param = space[name]
        if not active(param, config):
            continue
        if isinstance(param, FixedParam):
            config[name] = param.value
            continue
        config[name] = _suggest_one(trial, name, param)
    return config


def _suggest_one(trial: optuna.Trial, name: str, param: AnyParam) -> Any:
    if isinstance(param, ChoiceParam):
        return trial.suggest_categorical(name, param.choice)
    if isinstance(param, IntParam):
        return trial.suggest_int(name, *param.range_, step=param.step, log=param.log)
    assert isinstance(param, FloatParam)
    return trial.suggest_float(name, *param.range_, step=param.step, log=param.log)


def config_of(space: dict[str, AnyParam], sampled: dict[str, Any]) -> dict[str, Any]:
    """A trial's whole configuration from what Optuna sampled: fixed values included,
    inactive conditional ones left out."""
    config: dict[str, Any] = {}
    for name in condition_order(space):
        param = space[name]
        if active(param, config):
            config[name] = param.value if isinstance(param, FixedParam) else sampled[name]
    return config


def grid_points(space: dict[str, AnyParam]) -> dict[str, list[Any]]:
    """Optuna GridSampler's search space: every searched parameter with its values."""
    return {name: p.values for name, p in space.items() if not isinstance(p, FixedParam)}


def grid_size(space: dict[str, AnyParam]) -> int | None:
    """Number of grid points when every parameter is discrete, else None (arithmetic: the
    grid itself is never made)."""
    return grid_count(space)


def _enumerate_grid(space: dict[str, AnyParam]) -> Iterator[dict[str, Any]]:
    """Distinct active configurations of a discrete space (inactive values dropped)."""
    points = grid_points(space)
    seen: set[str] = set()
    for values in itertools.product(*points.values()):
        config = config_of(space, dict(zip(points, values, strict=True)))
        key = repr(sorted(config.items()))
        if key not in seen:
            seen.add(key)
            yield config


def planned_trials(spec: SweepSpec) -> int:
    """Trials a sweep runs: the grid size for grid search, the budget otherwise."""
    if spec.search.algorithm == "grid":
        size = grid_size(spec.space)
        assert size is not None  # spec validation guarantees a discrete space
        return size
    return spec.budget.trials


def sample_configs(spec: SweepSpec, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Every grid point when there are at most ``count``, else ``count`` random draws."""
    import optuna

    size = grid_size(spec.space)
    if size is not None and size <= count:
        return list(_enumerate_grid(spec.space))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    configs = []
    for _ in range(count):
        trial = study.ask()
        configs.append(suggest(trial, spec.space))
        study.tell(trial, 0.0)
    return configs
