"""Optuna's samplers for ``search.algorithm``, set up for Tune's ask/tell use."""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.samplers import (
    BaseSampler,
    CmaEsSampler,
    GridSampler,
    NSGAIISampler,
    RandomSampler,
    TPESampler,
)

from sweeper.config.schema import SweepSpec
from sweeper.search.space import grid_points

__all__ = ["make_sampler", "training_seed"]


def training_seed(search_seed: int, number: int) -> int:
    """Each trial's training seed: fixed by the sweep seed and the trial number."""
    return (search_seed * 1_000_003 + number) % (2**31 - 1)


class _AskTellGridSampler(GridSampler):
    """Optuna's grid sampler without its study.stop(), which works only inside optimize();
    the searcher stops at the grid size itself."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


def make_sampler(spec: SweepSpec, parallel: bool, seed: int) -> BaseSampler:
    algorithm = spec.search.algorithm
    if algorithm == "random":
        return RandomSampler(seed=seed)
    if algorithm == "grid":
        return _AskTellGridSampler(grid_points(spec.space), seed=seed)
    if algorithm == "nsga2":
        # generations small enough that a sweep's budget sees several evolve (Optuna's
        # default of 50 would leave a 20-trial sweep in its random first generation)
        population = max(4, min(50, spec.budget.trials // 4))
        return NSGAIISampler(seed=seed, population_size=population)
    if algorithm == "cmaes":
        return CmaEsSampler(seed=seed, warn_independent_sampling=False,
                            independent_sampler=RandomSampler(seed=seed))
    startup = max(2, min(10, spec.budget.trials // 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # group=True: conditional parameters get their own multivariate groups.
        return TPESampler(seed=seed, n_startup_trials=startup, multivariate=True, group=True,
                          constant_liar=parallel)
