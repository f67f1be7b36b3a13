"""The objectives: which metrics a sweep optimises and which way. The one place scores compare.

Every stage that asks "is this better?" (early stopping, the best trial, ranking, Optuna's
direction, plots) asks an ``Objective``. A multi-objective sweep holds several: the first is
a metric Keras logs each epoch (it drives early stopping, the schedulers and the best epoch);
the others may also be a model's costs (``COST_METRICS``), known once it is built or timed.
A ``Pick`` says which trial of the Pareto front counts as "the best".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = ["COST_METRICS", "Direction", "Objective", "Pick", "PickRule"]

# Objectives a trial's record knows without Keras logging them: its model's size and cost
# (counted once it is built) and its mean training+validation time per epoch.
PARAM_COUNT = "param_count"
FLOPS = "flops"
EPOCH_SECONDS = "epoch_seconds"
COST_METRICS = (PARAM_COUNT, FLOPS, EPOCH_SECONDS)

# What an infeasible trial is told to Optuna's TPE: below every real score, yet finite
# (TPE needs a number; a violated constraint ranks it last anyway).
_STAND_IN = 1.0e9


class Direction(StrEnum):
    MAX = "max"
    MIN = "min"


@dataclass(frozen=True)
class Objective:
    """A metric Keras logs each epoch and the direction that is better."""

    metric: str
    direction: Direction

    @classmethod
    def of(cls, metric: str, direction: str) -> Objective:
        return cls(metric, Direction(direction))

    @property
    def is_cost(self) -> bool:
        """A cost of the model (size, FLOPs, time), not a metric Keras logs each epoch."""
        return self.metric in COST_METRICS

    @property
    def maximize(self) -> bool:
        return self.direction == Direction.MAX

    @property
    def optuna_direction(self) -> Literal["maximize", "minimize"]:
        return "maximize" if self.maximize else "minimize"

    @property
    def stand_in(self) -> float:
        """A finite worst value, for samplers that need a number."""
        return -_STAND_IN if self.maximize else _STAND_IN

    def better(self, value: float, than: float | None, min_delta: float = 0.0) -> bool:
        """Whether ``value`` beats ``than`` by more than ``min_delta`` (anything beats None)."""
        if than is None:
            return True
        return value > than + min_delta if self.maximize else value < than - min_delta

    def reaches(self, value: float, target: float) -> bool:
        """Whether ``value`` is at ``target`` or better (``budget.target``)."""
        return value >= target if self.maximize else value <= target

    @property
    def ascending(self) -> bool:
        """Sort order that puts the best first."""
        return not self.maximize


class PickRule(StrEnum):
    BEST = "best"  # best:METRIC - the front's best value of one objective
    SMALLEST_WITHIN = "smallest-within"  # smallest-within:DELTA - fewest parameters among
    # the front's trials whose first objective is within DELTA of the front's best


_PICK = re.compile(r"^(best|smallest-within):(.+)$")


@dataclass(frozen=True)
class Pick:
    """Which trial of a multi-objective sweep's Pareto front is "the best" (status, the
    exported model, ``--register-model``, ``sweeper export``)."""

    rule: PickRule
    metric: str | None = None  # best:METRIC
    within: float | None = None  # smallest-within:DELTA

    @classmethod
    def parse(cls, text: str) -> Pick:
        """``best:val_accuracy`` or ``smallest-within:0.01``; ValueError says what was wrong."""
        match = _PICK.match(str(text).strip())
        if match is None:
            raise ValueError(f"expected best:METRIC (e.g. best:val_accuracy) or "
                             f"smallest-within:DELTA (e.g. smallest-within:0.01), got {text!r}")
        rule, argument = PickRule(match.group(1)), match.group(2).strip()
        if rule == PickRule.BEST:
            return cls(rule, metric=argument)
        try:
            within = float(argument)
        except ValueError:
            within = math.nan
        if not math.isfinite(within) or within < 0:
            raise ValueError(f"smallest-within:DELTA needs a number DELTA >= 0 (how far below "
                             f"the front's best first objective a smaller model may be), got "
                             f"{argument!r}")
        return cls(rule, within=within)

    def __str__(self) -> str:
        return f"{self.rule}:{self.metric if self.rule == PickRule.BEST else self.within}"
