"""The hyperparameters the built-in ``cnn`` model understands: name, type, bounds, default.

Kept free of TensorFlow so that ``sweeper validate`` can check a file in a fraction of a
second. ``build`` reads the same table, so a documented name is a used name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CNN_HYPERPARAMETERS", "Hyperparameter", "with_defaults"]


@dataclass(frozen=True)
class Hyperparameter:
    """One knob of the built-in CNN."""

    name: str
    type: type
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    nullable: bool = False

    def describe_bounds(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.low is None and self.high is None:
            return f"a {self.type.__name__}"
        left = "[" if self.low_inclusive else "("
        right = "]" if self.high_inclusive else ")"
        return f"a {self.type.__name__} in {left}{self.low}, {self.high}{right}"

    def check(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable, or None when it is."""
        if value is None:
            return None if self.nullable else f"expected {self.describe_bounds()}, got null"
        if self.type is bool:
            ok = isinstance(value, bool)
        elif self.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.type is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            hint = ""
            if isinstance(value, str) and self.type in (int, float):
                hint = (" (YAML reads 1e-3 as text: write 1.0e-3, with a dot)"
                        if "e" in value.lower() else "")
            return (f"expected {self.describe_bounds()}, got {value!r} "
                    f"({type(value).__name__}){hint}")
        if self.choices is not None and value not in self.choices:
            return f"expected {self.describe_bounds()}, got {value!r}"
        if self.low is not None and (
            value < self.low or (value == self.low and not self.low_inclusive)
        ):
            return f"expected {self.describe_bounds()}, got {value!r}"
        if self.high is not None and (
            value > self.high or (value == self.high and not self.high_inclusive)
        ):
            return f"expected {self.describe_bounds()}, got {value!r}"
        return None


OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
ACTIVATIONS = ("relu", "elu", "gelu", "swish", "selu", "tanh", "leaky_relu")

_TABLE = [
    Hyperparameter("optimizer", str, "adam", "training optimizer", choices=OPTIMIZERS),
    Hyperparameter("learning_rate", float, 1.0e-3, "optimizer step size",
                   low=0.0, high=10.0, low_inclusive=False),
    Hyperparameter("momentum", float, 0.9, "momentum of sgd and rmsprop",
                   low=0.0, high=1.0, high_inclusive=False),
    Hyperparameter("nesterov", bool, False, "Nesterov momentum for sgd"),
    Hyperparameter("weight_decay", float, None,
                   "decoupled weight decay; null = the optimizer's default (adamw: 0.004)",
                   low=0.0, high=1.0, nullable=True),
    Hyperparameter("batch_size", int, 64, "examples per step", low=1, high=65536),
    Hyperparameter("depth", int, 2, "number of convolution blocks", low=1, high=64),
    Hyperparameter("filters", int, 32, "filters of the first block", low=1, high=4096),
    Hyperparameter("filters_growth", float, 2.0,
                   "filters are multiplied by this from one block to the next",
                   low=1.0, high=4.0),
    Hyperparameter("convs_per_block", int, 1, "convolutions in each block", low=1, high=8),
    Hyperparameter("kernel_size", int, 3, "convolution kernel size", low=1, high=15),
    Hyperparameter("stride", int, 1, "stride of each block's first convolution",
                   low=1, high=8),
    Hyperparameter("padding", str, "same", "convolution padding", choices=("same", "valid")),
    Hyperparameter("pooling", str, "max", "pooling after each block",
                   choices=("max", "avg", "none")),
    Hyperparameter("pool_size", int, 2, "pooling window and stride", low=2, high=8),
    Hyperparameter("batch_norm", bool, True, "batch normalization in every convolution"),
    Hyperparameter("batch_norm_position", str, "after_activation",
                   "where batch normalization sits",
                   choices=("after_activation", "before_activation")),
    Hyperparameter("batch_norm_momentum", float, 0.9,
                   "how slowly batch norm's moving statistics follow the batches (Keras: 0.99)",
                   low=0.0, high=1.0, high_inclusive=False),
    Hyperparameter("residual", bool, False,
                   "residual shortcut around each block (1x1 projection when shapes differ)"),
    Hyperparameter("activation", str, "relu", "activation function", choices=ACTIVATIONS),
    Hyperparameter("head", str, "auto",
                   "how the last feature map becomes a vector; auto = flatten, after "
                   "average pooling to at most 8x8 cells",
                   choices=("auto", "flatten", "global_avg", "global_max")),
    Hyperparameter("dropout", float, 0.25, "dropout rate before the classifier",
                   low=0.0, high=1.0, high_inclusive=False),
    Hyperparameter("dense_units", int, 128, "hidden dense layer width; 0 = none",
                   low=0, high=8192),
    Hyperparameter("augmentation", float, 0.0,
                   "augmentation strength: rotation, shift, zoom, flip, brightness and "
                   "contrast all scale with it; 0 = off",
                   low=0.0, high=1.0),
]

CNN_HYPERPARAMETERS: dict[str, Hyperparameter] = {h.name: h for h in _TABLE}


def with_defaults(params: dict[str, Any]) -> dict[str, Any]:
    """The full parameter dict of the built-in CNN: given values over the defaults."""
    full = {name: h.default for name, h in CNN_HYPERPARAMETERS.items()}
    full.update(params)
    return full
