"""The objective: which metric a sweep optimises and which way. The one place scores compare.

Every stage that asks "is this better?" (early stopping, the best trial, ranking, Optuna's
direction, plots) asks an ``Objective``; a later multi-objective sweep holds a list of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = ["Direction", "Objective"]

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

    @property
    def ascending(self) -> bool:
        """Sort order that puts the best first."""
        return not self.maximize
