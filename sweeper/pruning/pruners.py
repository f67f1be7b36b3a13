"""Optuna's own pruners for the ``optuna_*`` schedulers (none is rewritten here)."""

from __future__ import annotations

import optuna

from sweeper.config.schema import SweepSpec

__all__ = ["make_pruner"]


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    s, max_epochs = spec.scheduler, spec.budget.max_epochs
    if s.kind == "optuna_hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=s.grace_period, max_resource=max_epochs,
                                              reduction_factor=int(s.reduction_factor))
    if s.kind == "optuna_median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=s.grace_period)
    if s.kind == "optuna_sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=s.grace_period,
                                                      reduction_factor=int(s.reduction_factor))
    return optuna.pruners.NopPruner()  # Ray's scheduler decides; Optuna only records
