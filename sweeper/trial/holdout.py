"""The test split's one score of the exported best model (see ``store.test_score``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweeper.data.dataset import Dataset
from sweeper.data.pipeline import pipeline
from sweeper.models.labels import one_hot_classes
from sweeper.store.test_score import TestScore, test_metric_name

__all__ = ["evaluate_on_test", "score_best_model"]

EVALUATION_BATCH = 128


def evaluate_on_test(model: Any, dataset: Dataset) -> dict[str, float]:
    """Every compiled metric of ``model`` (a keras.Model or a .keras path) on the test split,
    named ``test_<metric>``; empty when the data has no test split."""
    if dataset.x_test is None or dataset.y_test is None or not len(dataset.y_test):
        return {}
    if isinstance(model, str | Path):
        import keras

        model = keras.models.load_model(model)
    evaluation = model.evaluate(
        pipeline(dataset.x_test, dataset.y_test, EVALUATION_BATCH, training=False, seed=0,
                 one_hot=one_hot_classes(model, dataset.num_classes)),
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
