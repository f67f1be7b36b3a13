"""The file's hard constraints on a trial's model, checked wherever its cost becomes known:
by the searcher before a trial starts (kinds that count without building), by the trial once
its model is built, and by the training loop during the first epoch.

Optuna's constraint-aware samplers (tpe, nsga2) read one value per limit from each trial
(``Trial.set_constraint``; Optuna 5 deprecates ``constraints_func`` for it): feasible at or
below zero, else the relative excess, so a model twice too large ranks below one just over.
"""

from __future__ import annotations

from dataclasses import dataclass

from sweeper.config.schema import ConstraintsSpec

__all__ = ["Limits", "limit_of"]

PARAMS = "max_params"
FLOPS = "max_flops"
EPOCH_SECONDS = "max_epoch_seconds"


@dataclass(frozen=True)
class Limits:
    """``constraints:`` as the stages that check it need it (None: no limit)."""

    max_params: int | None = None
    max_flops: int | None = None
    max_epoch_seconds: float | None = None

    @classmethod
    def of(cls, spec: ConstraintsSpec) -> Limits:
        return cls(spec.max_params, spec.max_flops, spec.max_epoch_seconds)

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.max_params, self.max_flops,
                                            self.max_epoch_seconds))

    def over_size(self, param_count: int | None, flops: int | None) -> str | None:
        """Why a model of this size breaks a limit (None: it does not, or it is unknown)."""
        if self.max_params is not None and param_count is not None \
                and param_count > self.max_params:
            return (f"over constraints.max_params {self.max_params:,}: {param_count:,} "
                    "parameters")
        if self.max_flops is not None and flops is not None and flops > self.max_flops:
            return f"over constraints.max_flops {self.max_flops:,}: {flops:,} FLOPs"
        return None

    def over_time(self, seconds: float, projected: float | None = None) -> str | None:
        """``projected``: the whole epoch at the pace so far, when it is still running."""
        if self.max_epoch_seconds is not None and seconds > self.max_epoch_seconds:
            pace = f" (about {projected:.1f} s at its pace)" if projected else ""
            return (f"over constraints.max_epoch_seconds {self.max_epoch_seconds:g}: its first "
                    f"epoch ran {seconds:.1f} s{pace}")
        return None

    def violations(self, param_count: int | None, flops: int | None,
                   epoch_seconds: float | None) -> dict[str, float]:
        """One Optuna constraint value per limit the file sets: the relative excess (> 0
        infeasible), 0 where the value is within the limit or unknown."""
        values: dict[str, float] = {}
        for key, limit, value in ((PARAMS, self.max_params, param_count),
                                  (FLOPS, self.max_flops, flops),
                                  (EPOCH_SECONDS, self.max_epoch_seconds, epoch_seconds)):
            if limit is not None:
                values[key] = 0.0 if value is None else max(0.0, (value - limit) / limit)
        return values


def limit_of(reason: str) -> str:
    """A verdict without its counts ('over constraints.max_params 100,000'), to tally them."""
    return reason.partition(":")[0] if reason.startswith("over constraints.") else reason
