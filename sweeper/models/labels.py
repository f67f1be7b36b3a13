"""Which labels a compiled model trains on: one-hot vectors when its loss is categorical
cross-entropy (as ``build_model(hp)`` examples often compile), class indices otherwise."""

from __future__ import annotations

from typing import Any

__all__ = ["one_hot_classes", "wants_one_hot"]

# Keras losses that compare against one-hot vectors, their names lower-cased without "_"
_ONE_HOT_LOSSES = frozenset({"categoricalcrossentropy", "categoricalfocalcrossentropy"})


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
    names = [type(loss).__name__, getattr(loss, "__name__", ""), getattr(loss, "name", "")]
    return [n for n in names if isinstance(n, str) and n]


def wants_one_hot(model: Any) -> bool:
    """Whether the model's loss (``model.loss``, as compiled) needs one-hot labels."""
    return any(name.lower().replace("_", "") in _ONE_HOT_LOSSES
               for name in _names(getattr(model, "loss", None)))


def one_hot_classes(model: Any, num_classes: int) -> int | None:
    """``num_classes`` when the model trains on one-hot labels, else None (indices)."""
    return num_classes if wants_one_hot(model) else None
