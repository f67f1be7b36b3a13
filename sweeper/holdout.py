"""The test split's one score of the exported best model.

A sweep picks its best trial, and that trial its best epoch, on the validation split, so the
validation score of the winner is biased upward (the more trials and the noisier the curve,
the more). The test split took part in none of those choices: scored once, at the end, it
says what the exported model does on images it has never been chosen on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sweeper.data import Dataset, pipeline

__all__ = ["TestScore", "evaluate_on_test", "score_best_model", "test_metric_name"]

EVALUATION_BATCH = 128


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


def evaluate_on_test(model: Any, dataset: Dataset) -> dict[str, float]:
    """Every compiled metric of ``model`` (a keras.Model or a .keras path) on the test split,
    named ``test_<metric>``; empty when the data has no test split."""
    if dataset.x_test is None or dataset.y_test is None or not len(dataset.y_test):
        return {}
    if isinstance(model, str | Path):
        import keras

        model = keras.models.load_model(model)
    evaluation = model.evaluate(
        pipeline(dataset.x_test, dataset.y_test, EVALUATION_BATCH, training=False, seed=0),
        verbose=0, return_dict=True)
    return {f"test_{name}": float(value) for name, value in evaluation.items()}


def score_best_model(model_path: Path, dataset: Dataset, best: dict[str, Any],
                     objective_metric: str) -> TestScore | None:
    """The exported best model's TestScore (None without a test split)."""
    metrics = evaluate_on_test(model_path, dataset)
    name = test_metric_name(objective_metric)
    if name not in metrics:
        return None
    return TestScore(
        trial_id=str(best["trial_id"]), trial_number=int(best["number"]), metric=name,
        value=metrics[name], validation_metric=objective_metric,
        validation_value=float(best["score"]), images=dataset.test_images, metrics=metrics)
