"""Train one fixed configuration: what ``sweeper train`` runs on an exported best config."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sweeper.builders import resolve_builder
from sweeper.errors import SpecError, SweepFailed
from sweeper.spec import FixedParam, LoadedSpec


@dataclass
class TrainResult:
    """What one training run reached, as written to ``train.json``."""

    objective_metric: str
    objective: float
    best_epoch: int
    epochs_run: int
    metrics: dict[str, float]
    seed: int
    params: dict[str, Any]
    data_fingerprint: str
    model_path: str
    seconds: float
    test_metrics: dict[str, float] = field(default_factory=dict)
    test_images: int = 0


def require_fixed(loaded: LoadedSpec) -> dict[str, Any]:
    """The parameter values of a file whose every parameter is fixed."""
    for name, param in loaded.spec.space.items():
        if not isinstance(param, FixedParam):
            raise SpecError([loaded.problem(
                ("space", name),
                f"space.{name}: `sweeper train` needs every parameter fixed, but '{name}' is "
                "searched; write a single value, or train the best config of a sweep "
                "(`sweeper export NAME -o best.yaml`, then `sweeper train best.yaml`)", key=True)])
        if param.when:
            raise SpecError([loaded.problem(
                ("space", name, "when"),
                f"space.{name}: a fixed config has no conditions; remove 'when'")])
    return loaded.spec.fixed_params()


def train(loaded: LoadedSpec, *, epochs: int | None, output: Path, seed: int,
          verbose: bool = True) -> TrainResult:
    """Load data, build, fit with early stopping on the objective, save the model."""
    params = require_fixed(loaded)
    builder = resolve_builder(loaded)
    spec = loaded.spec
    from sweeper.architecture import plan
    from sweeper.data import load_dataset, pipeline

    dataset = load_dataset(loaded)
    if spec.model.builtin:
        bp = plan(params, (*dataset.image_size, dataset.channels), dataset.num_classes)
        if not bp.feasible:
            raise SpecError([loaded.problem(("space",), f"space: infeasible architecture: "
                                                        f"{bp.infeasible}", key=True)])
    for warning in dataset.warnings:
        print(f"warning: {warning}")
    print(dataset.split_note)
    recorded = (spec.provenance or {}).get("data_fingerprint")
    if recorded and recorded != dataset.fingerprint():
        print(f"warning: the data differs from the data the sweep trained on (fingerprint "
              f"{dataset.fingerprint()}, recorded {recorded}): scores may not compare")

    import keras

    from sweeper.models import InputInfo, build

    keras.utils.set_random_seed(seed)
    mean, variance = dataset.channel_stats()
    horizontal_flip = spec.data.horizontal_flip
    if horizontal_flip is None:
        horizontal_flip = spec.data.source not in ("digits", "mnist5k")
    info = InputInfo(dataset.image_size, dataset.channels, dataset.num_classes, mean, variance,
                     horizontal_flip)
    model = build(spec.model.kind, builder, params, info)
    batch_size = int(params.get("batch_size", 64))
    metric, mode = spec.objective.metric, spec.objective.direction
    total_epochs = epochs or spec.budget.max_epochs
    # The sweep's rule: a run's score is its best epoch. Patience null never stops, but the
    # best epoch's weights are still the ones kept (unless restore_best_weights is off).
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.EarlyStopping(
            monitor=metric, mode=mode, min_delta=spec.early_stopping.min_delta,
            patience=spec.early_stopping.patience or total_epochs + 1,
            restore_best_weights=spec.early_stopping.restore_best_weights)]
    started = time.monotonic()
    history = model.fit(
        pipeline(dataset.x_train, dataset.y_train, batch_size, training=True, seed=seed),
        validation_data=pipeline(dataset.x_val, dataset.y_val, batch_size, training=False,
                                 seed=seed),
        epochs=total_epochs, callbacks=callbacks, shuffle=False,  # the pipeline shuffles
        verbose=2 if verbose else 0)
    values = history.history.get(metric)
    if not values:
        raise SweepFailed(f"the model never logged objective.metric {metric!r}; it logged: "
                          f"{', '.join(history.history)}")
    if any(not math.isfinite(v) for v in history.history.get("loss", [])):
        raise SweepFailed("training diverged: the loss became NaN or infinite; lower the "
                          "learning rate or add batch normalization")
    best_index = max(range(len(values)), key=lambda i: values[i] if mode == "max" else -values[i])
    evaluation = model.evaluate(
        pipeline(dataset.x_val, dataset.y_val, batch_size, training=False, seed=seed),
        verbose=0, return_dict=True)
    metrics = {f"val_{k}": float(v) for k, v in evaluation.items()}
    from sweeper.holdout import evaluate_on_test

    test_metrics = evaluate_on_test(model, dataset)
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    result = TrainResult(
        objective_metric=metric,
        objective=float(values[best_index]),
        best_epoch=best_index + 1,
        epochs_run=len(values),
        metrics=metrics,
        seed=seed,
        params=params,
        data_fingerprint=dataset.fingerprint(),
        model_path=str(output),
        seconds=round(time.monotonic() - started, 2),
        test_metrics=test_metrics,
        test_images=dataset.test_images,
    )
    output.with_suffix(".json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


@dataclass
class SeedsSummary:
    """The same configuration trained with several seeds: was the winner luck?"""

    metric: str
    results: list[TrainResult]

    @property
    def values(self) -> list[float]:
        return [r.objective for r in self.results]

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def std(self) -> float:
        mean = self.mean
        return math.sqrt(sum((v - mean) ** 2 for v in self.values) / len(self.values))


def train_seeds(loaded: LoadedSpec, *, epochs: int | None, output: Path, first_seed: int,
                count: int, verbose: bool = True) -> SeedsSummary:
    """Train ``count`` times (seeds first_seed, first_seed+1, ...); the first model is kept at
    ``output``, the others beside it as ``NAME-seedS.keras``."""
    results = []
    for index in range(count):
        seed = first_seed + index
        path = output if index == 0 else output.with_name(
            f"{output.stem}-seed{seed}{output.suffix}")
        results.append(train(loaded, epochs=epochs, output=path, seed=seed, verbose=verbose))
    summary = SeedsSummary(loaded.spec.objective.metric, results)
    output.with_suffix(".seeds.json").write_text(json.dumps(
        {"metric": summary.metric, "mean": summary.mean, "std": summary.std,
         "runs": [asdict(r) for r in results]}, indent=2) + "\n")
    return summary
