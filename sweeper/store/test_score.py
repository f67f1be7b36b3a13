"""The test split's one score of the exported best model, as sweep.json records it.

A sweep picks its best trial, and that trial its best epoch, on the validation split, so the
validation score of the winner is biased upward (the more trials and the noisier the curve,
the more). The test split took part in none of those choices: scored once, at the end, it
says what the exported model does on images it has never been chosen on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["TestScore", "test_metric_name"]


def test_metric_name(objective_metric: str) -> str:
    """``val_accuracy`` is scored on the test split as ``test_accuracy``."""
    base = objective_metric.removeprefix("val_")
    return f"test_{base}"


@dataclass(frozen=True)
class TestScore:
    """What the exported model scored on the test split, beside its validation score."""

    trial_id: str
    trial_number: int
    metric: str
    value: float
    validation_metric: str
    validation_value: float
    images: int
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> TestScore | None:
        return None if not raw else cls(**raw)

    def describe(self) -> str:
        return (f"{self.metric} {self.value:.4f} on {self.images} held-out test images "
                f"(validation {self.validation_metric} {self.validation_value:.4f})")
