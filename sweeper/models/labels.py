"""Which labels a compiled model trains on: class indices for a sparse loss (Keras's
``sparse_*``, what sweeper compiles with) or a one-unit output; one-hot vectors for any
other loss over several outputs (categorical cross-entropy, as ``build_model(hp)`` examples
often compile, and mse, KL divergence, categorical hinge, a user's loss), which compare
against a vector as wide as the prediction."""

from __future__ import annotations

from typing import Any

__all__ = ["one_hot_classes", "wants_one_hot"]



def _names(loss: Any) -> list[str]:
    """The names of the losses a model compiled with: a string, a function, a Loss object,
    or a list or dict of them (one per output)."""
    if loss is None:
        return []
    if isinstance(loss, dict):
        return [n for item in loss.values() for n in _names(item)]
    if isinstance(loss, list | tuple):
        return [n for item in loss for n in _names(item)]
    if isinstance(loss, str):
        return [loss]
    for name in (getattr(loss, "__name__", None), getattr(loss, "name", None)):
        if isinstance(name, str) and name:  # a function's name, a Loss object's own name
            return [name]
    return [type(loss).__name__]  # a Loss object without a name: its class


def _width(model: Any) -> int | None:
    """The last axis of the model's first output (None: not known)."""
    try:
        width = model.outputs[0].shape[-1]
    except (AttributeError, IndexError, TypeError):
        return None
    return int(width) if width is not None else None


def wants_one_hot(model: Any) -> bool:
    """Whether the model's loss (``model.loss``, as compiled) needs one-hot labels."""
    names = _names(getattr(model, "loss", None))
    if not names or all(name.lower().startswith("sparse") for name in names):
        return False
    return _width(model) != 1


def one_hot_classes(model: Any, num_classes: int) -> int | None:
    """``num_classes`` when the model trains on one-hot labels, else None (indices)."""
    return num_classes if wants_one_hot(model) else None
