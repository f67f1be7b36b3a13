"""Train one fixed configuration: what ``sweeper train`` runs on an exported best config."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
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
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN()]
    if spec.early_stopping.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=metric, mode=mode, patience=spec.early_stopping.patience,
            min_delta=spec.early_stopping.min_delta,
            restore_best_weights=spec.early_stopping.restore_best_weights))
    total_epochs = epochs or spec.budget.max_epochs
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
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    result = TrainResult(
        objective_metric=metric,
        objective=float(metrics.get(metric, values[best_index])),
        best_epoch=best_index + 1,
        epochs_run=len(values),
        metrics=metrics,
        seed=seed,
        params=params,
        data_fingerprint=dataset.fingerprint(),
        model_path=str(output),
        seconds=round(time.monotonic() - started, 2),
    )
    output.with_suffix(".json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result
