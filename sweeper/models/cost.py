"""What a built model costs: its parameters and the FLOPs of one image's forward pass.

Any kind's model is measured the same way once built, with the built-in CNN's convention
(``cnn.blueprint``): 2 x the multiply-adds of convolutions and dense layers, which dominate
a CNN; biases, normalization, activations and pooling are not counted. Keras is imported
inside the function, like ``compile``: importing this module starts no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

__all__ = ["ModelCost", "measured_cost"]


@dataclass(frozen=True)
class ModelCost:
    """``flops`` is None when some convolution or dense layer's shapes are unknown (a
    subclassed model's layers, or an input of unknown size reaching one)."""

    param_count: int
    flops: int | None


def _spatial(shape: Any) -> int | None:
    """The product of a tensor shape's dims between batch and channels (None: unknown)."""
    dims = tuple(shape)[1:-1]
    if any(d is None for d in dims):
        return None
    return math.prod(int(d) for d in dims)


def _shapes(layer: Any, which: str) -> list[Any]:
    """The input or output shape of each call of ``layer`` in its model's graph."""
    shapes = []
    for node in getattr(layer, "_inbound_nodes", []):
        tensors = node.input_tensors if which == "input" else node.outputs
        if tensors:
            shapes.append(tensors[0].shape)
    return shapes


def _layer_macs(layer: Any, keras_module: Any) -> int | None:
    """Multiply-adds of all calls of one layer; 0 for layers not counted."""
    layers = keras_module.layers
    if isinstance(layer, layers.SeparableConv1D | layers.SeparableConv2D):
        per_position = (math.prod(layer.depthwise_kernel.shape)
                        + math.prod(layer.pointwise_kernel.shape))
        which = "output"
    elif isinstance(layer, layers.Conv1DTranspose | layers.Conv2DTranspose
                    | layers.Conv3DTranspose):
        per_position = math.prod(layer.kernel.shape)  # each input position scatters a kernel
        which = "input"
    elif isinstance(layer, layers.DepthwiseConv1D | layers.DepthwiseConv2D
                    | layers.Conv1D | layers.Conv2D | layers.Conv3D | layers.Dense):
        # Conv kernels are (*window, in / groups, filters); depthwise (*window, in, mult)
        per_position = math.prod(layer.kernel.shape)
        which = "output"
    else:
        return 0
    shapes = _shapes(layer, which)
    if not shapes:
        return None
    total = 0
    for shape in shapes:
        positions = _spatial(shape)
        if positions is None:
            return None
        total += per_position * positions
    return total


def _model_macs(model: Any, keras_module: Any) -> int | None:
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras_module.Model):
            inner = _model_macs(layer, keras_module)
            calls = len(getattr(layer, "_inbound_nodes", [])) or 1
            if inner is None:
                return None
            total += inner * calls
            continue
        macs = _layer_macs(layer, keras_module)
        if macs is None:
            return None
        total += macs
    return total


def measured_cost(model: keras.Model) -> ModelCost:
    """The parameters (trainable and not, as ``count_params``) and FLOPs of a built model.

    Nested models (a keras.applications backbone, a Sequential block) are walked into and
    counted once per call.
    """
    import keras

    macs = _model_macs(model, keras)
    return ModelCost(int(model.count_params()), None if macs is None else 2 * macs)
