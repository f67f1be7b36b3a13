"""The optimizer a configuration names, and compiling a model with it (every kind).

Keras is imported inside the functions: a Ray worker unpickling a trial's trainable must
not start TensorFlow before the trial has sized its thread pools (and a slow actor start
would make Tune reuse one worker for every trial instead of starting trials side by side).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sweeper.models.cnn.catalog import CNN_HYPERPARAMETERS, with_defaults

if TYPE_CHECKING:
    import keras

__all__ = ["batch_size", "compile_model", "make_optimizer"]


def batch_size(params: dict[str, Any]) -> int:
    """Examples per step: the configuration's, else the catalog's default."""
    return int(params.get("batch_size", CNN_HYPERPARAMETERS["batch_size"].default))


def make_optimizer(params: dict[str, Any]) -> keras.optimizers.Optimizer:
    """The optimizer named by ``params`` with its learning rate, momentum and decay."""
    import keras

    p = with_defaults(params)
    name, lr, decay = p["optimizer"], float(p["learning_rate"]), p["weight_decay"]
    extra = {} if decay is None else {"weight_decay": float(decay)}
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr, **extra)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, **extra)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=float(p["momentum"]),
                                    nesterov=bool(p["nesterov"]), **extra)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr, momentum=float(p["momentum"]),
                                        **extra)
    raise ValueError(f"unknown optimizer {name!r}")


def compile_model(model: keras.Model, params: dict[str, Any]) -> keras.Model:
    model.compile(optimizer=make_optimizer(params), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
