"""Healthy models and models with one learning problem planted, for the diagnosis tests and
``benchmarks/diagnosis.py``.

Each recipe is a search-space file's ``model`` and ``space``: the built-in CNN with its own
knobs, or a builder of ``tests/planted_models.py`` (``model.kind:
tests.planted_models:NAME``, imported from the repository root). A fault recipe names the
code it plants, a healthy one none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

ROOT = Path(__file__).resolve().parents[1]  # where tests.planted_models is imported from

# -- the recipes


@dataclass(frozen=True)
class Recipe:
    """One model to train: ``plants`` names the code it must raise (None: healthy)."""

    name: str
    plants: str | None
    kind: str = "cnn"
    space: dict[str, Any] = field(default_factory=dict)
    epochs: int = 4
    sources: tuple[str, ...] = ("digits", "mnist5k")  # the data it plants its fault on

    def spec(self, name: str, source: str, seed: int = 0,
             diagnosis: dict[str, Any] | None = None) -> dict[str, Any]:
        """A search-space file for ``sweeper train`` (every parameter fixed)."""
        return {"name": name, "data": {"source": source, "seed": seed},
                "model": {"kind": self.kind}, "budget": {"max_epochs": self.epochs},
                "early_stopping": {"patience": None},
                "diagnosis": diagnosis or {"prune": False},
                "space": dict(self.space)}


def _custom(name: str) -> str:
    return f"tests.planted_models:{name}"


HEALTHY = [
    Recipe("cnn defaults", None, epochs=8),
    Recipe("cnn without batch norm", None, space={"batch_norm": False}, epochs=8),
    Recipe("cnn augmentation 0.3, residual", None,
           space={"augmentation": 0.3, "residual": True, "depth": 3}, epochs=8),
    Recipe("cnn sgd 0.05, elu, dropout 0.5", None,
           space={"optimizer": "sgd", "learning_rate": 0.05, "activation": "elu",
                  "dropout": 0.5}, epochs=8),
    Recipe("cnn batch norm before relu, batch 32", None,
           space={"batch_norm_position": "before_activation", "batch_size": 32}, epochs=8),
    Recipe("sequential (seed example 2)", None, _custom("healthy_sequential"), epochs=8),
    Recipe("functional residual", None, _custom("healthy_residual"), epochs=8),
    Recipe("sequential with L2 regularizers", None, _custom("healthy_regularized"), epochs=8),
    Recipe("subclassed", None, _custom("healthy_subclassed"), epochs=8),
]

FAULTS = [
    Recipe("cnn sgd lr 5, elu, without batch norm", "nan_loss",
           space={"optimizer": "sgd", "learning_rate": 5.0, "batch_norm": False,
                  "activation": "elu"}),
    Recipe("custom lr 10 on raw pixels", "nan_loss", _custom("nan_maker")),
    Recipe("custom growing learning rate", "diverging", _custom("diverging"), epochs=6),
    Recipe("custom wide init on raw pixels", "exploding_gradients", _custom("exploding")),
    Recipe("subclassed wide init on raw pixels", "exploding_gradients",
           _custom("exploding_subclassed")),
    Recipe("custom ten sigmoid layers", "vanishing_gradients", _custom("vanishing")),
    Recipe("custom negative relu biases", "dead_relu", _custom("dead_relu")),
    # on digits the same knobs give a NaN loss within the first epoch
    Recipe("cnn sgd lr 5, relu, without batch norm", "dead_relu",
           space={"optimizer": "sgd", "learning_rate": 5.0, "batch_norm": False},
           sources=("mnist5k",)),
    Recipe("cnn learning rate 1e-7", "stalled", space={"learning_rate": 1.0e-7}),
    Recipe("custom sgd 1e-7", "stalled", _custom("crawling")),
    # digits' 8x8 images: these defaults learn there; on 28x28 MNIST they stay at chance
    Recipe("cnn previous defaults (bn before relu, 0.99, global_avg)", "val_at_chance",
           space={"batch_norm_position": "before_activation", "batch_norm_momentum": 0.99,
                  "head": "global_avg"}, sources=("mnist5k",)),
    Recipe("custom validation images inverted", "val_at_chance",
           _custom("leaky_preprocessing")),
    # on digits this model does not overfit: its validation loss falls to the end
    Recipe("cnn wide dense, no dropout", "overfitting",
           space={"dense_units": 1024, "dropout": 0.0, "batch_norm": False,
                  "head": "flatten", "learning_rate": 3.0e-3}, epochs=12, sources=("mnist5k",)),
    Recipe("custom wide dense layers", "overfitting", _custom("memorizing"), epochs=12),
    Recipe("custom without rescaling", "unnormalized_input", _custom("unnormalized")),
    Recipe("cnn augmentation 1.0", "over_augmentation", space={"augmentation": 1.0}),
    Recipe("custom erasing, shift 30%, zoom 50%", "over_augmentation",
           _custom("over_augmented"), epochs=6),
]



# -- training a recipe through the trial loop


@dataclass
class Outcome:
    """What the diagnosis said of one recipe's training."""

    recipe: Recipe
    source: str
    codes: list[str]  # every finding's code, in the order first seen
    severe: list[str]
    best: float | None
    epochs: int
    seconds: float
    train_seconds: list[float]  # per epoch, validation left out
    failed: str = ""  # the failure's reason (nan_loss), if it failed
    curves: list[dict[str, float]] = field(default_factory=list)  # each epoch's numbers


def loaded_recipe(recipe: Recipe, source: str, diagnosis: dict[str, Any] | None = None) -> Any:
    from sweeper.config.load import loads
    from sweeper.config.yamlio import dump
    from sweeper.models.kinds import check_spec

    spec = recipe.spec("planted", source, diagnosis=diagnosis)
    return loads(dump(spec), file="planted.yaml", base_dir=ROOT, checks=(check_spec,))


def load_data(source: str) -> Any:
    from sweeper.data.dataset import load_dataset

    return load_dataset(loaded_recipe(HEALTHY[0], source)).for_trials()


def train(recipe: Recipe, source: str, data: Any,
          diagnosis: dict[str, Any] | None = None) -> Outcome:
    """One recipe through the trial loop (the code a sweep's trial runs); pruning off unless
    ``diagnosis`` says otherwise."""
    from sweeper.models.kinds import resolve_kind
    from sweeper.result import TrialResult
    from sweeper.status import Status
    from sweeper.trial.loop import EarlyStoppingState, LoopSettings, TrialFailure, fit
    from sweeper.trial.trainable import input_info

    loaded = loaded_recipe(recipe, source, diagnosis)
    params = dict(loaded.spec.fixed_params())
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = resolve_kind(loaded).build(params, input_info(data, loaded.spec.data.flip))
    results: list[TrialResult] = []
    state = EarlyStoppingState()
    started = time.monotonic()
    failed, findings = "", []
    try:
        fit(model, data, params, 0, LoopSettings.of(loaded.spec), state,
            TrialResult(number=0, seed=0, epoch=0, status=Status.RUNNING),
            lambda result, _: results.append(result))
    except TrialFailure as failure:
        failed, findings = failure.reason.value, list(failure.findings)
    findings = [f for r in results for f in r.findings] + findings
    return Outcome(recipe, source, list(dict.fromkeys(f.code.value for f in findings)),
                   list(dict.fromkeys(f.code.value for f in findings if f.severe)),
                   state.best, state.epoch, time.monotonic() - started,
                   [r.epoch_seconds - (r.validation_seconds or 0.0) for r in results
                    if r.epoch_seconds is not None], failed,
                   [r.epoch_metrics() for r in results])
