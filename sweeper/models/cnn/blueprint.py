"""Blueprint of the built-in CNN: layer shapes, parameter count and FLOPs without TensorFlow.

The blueprint is the single description of the network: ``build`` makes Keras layers of
it, and ``sweeper validate`` uses it to find stride/padding/kernel combinations
that shrink the image to nothing before any trial is launched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sweeper.models.cnn.catalog import with_defaults

__all__ = ["BlockPlan", "Blueprint", "ConvPlan", "auto_head_pool", "plan"]


@dataclass(frozen=True)
class ConvPlan:
    """One Conv2D (plus its batch norm when enabled)."""

    name: str
    filters: int
    kernel: int
    stride: int
    padding: str
    use_bias: bool
    batch_norm: bool
    out_hw: tuple[int, int]


@dataclass(frozen=True)
class BlockPlan:
    """A convolution block: its convs, an optional shortcut projection, optional pooling."""

    index: int
    convs: tuple[ConvPlan, ...]
    residual: bool
    projection: ConvPlan | None
    pool: str | None
    pool_size: int
    out_hw: tuple[int, int]
    filters: int


@dataclass
class Blueprint:
    """The whole network for one parameter dict, or why it cannot exist."""

    params: dict[str, Any]
    input_shape: tuple[int, int, int]
    num_classes: int
    blocks: list[BlockPlan] = field(default_factory=list)
    infeasible: str | None = None
    param_count: int = 0
    flops: int = 0

    @property
    def feasible(self) -> bool:
        return self.infeasible is None

    @property
    def head_pool(self) -> tuple[int, int] | None:
        """Average-pooling window of ``head: auto`` before it flattens (None: no pooling)."""
        if self.params["head"] != "auto":
            return None
        return auto_head_pool(self.blocks[-1].out_hw)

    @property
    def head_features(self) -> int:
        last = self.blocks[-1]
        head = self.params["head"]
        if head == "flatten":
            return last.out_hw[0] * last.out_hw[1] * last.filters
        if head == "auto":
            pool = self.head_pool or (1, 1)
            return (last.out_hw[0] // pool[0]) * (last.out_hw[1] // pool[1]) * last.filters
        return last.filters


HEAD_CELLS = 8


def auto_head_pool(hw: tuple[int, int]) -> tuple[int, int] | None:
    """``head: auto`` flattens at most HEAD_CELLS x HEAD_CELLS positions.

    Flattening keeps where features are (a global average after two blocks of a 28x28 digit
    throws the strokes' places away: validation 0.84 against 0.96 after 3 epochs on MNIST-5k,
    BENCHMARKS.md); average pooling first keeps a large map from turning into millions of
    head weights (a whole 16x16 map: 0.30 against 0.84 on a 64x64 colour folder).
    """
    window = (math.ceil(hw[0] / HEAD_CELLS), math.ceil(hw[1] / HEAD_CELLS))
    return None if window == (1, 1) else window


class Infeasible(Exception):
    """A layer whose input is smaller than its window."""


def _conv_out(size: int, kernel: int, stride: int, padding: str, layer: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    if size < kernel:
        raise Infeasible(
            f"{layer} (kernel {kernel}, stride {stride}, padding valid) gets a {size}-pixel "
            f"wide input, smaller than its kernel")
    return (size - kernel) // stride + 1


def _hw(hw: tuple[int, int], kernel: int, stride: int, padding: str,
        layer: str) -> tuple[int, int]:
    return (_conv_out(hw[0], kernel, stride, padding, layer),
            _conv_out(hw[1], kernel, stride, padding, layer))


def block_filters(params: dict[str, Any], index: int) -> int:
    return max(1, round(params["filters"] * params["filters_growth"] ** index))


def plan(params: dict[str, Any], input_shape: tuple[int, int, int],
         num_classes: int) -> Blueprint:
    """Lay out the network; ``infeasible`` names the first layer that collapses."""
    p = with_defaults(params)
    bp = Blueprint(params=p, input_shape=input_shape, num_classes=num_classes)
    height, width, channels = input_shape
    hw = (height, width)
    bn = bool(p["batch_norm"])
    conv_bias = not (bn and p["batch_norm_position"] == "before_activation")
    padding = p["padding"]
    kernel = int(p["kernel_size"])
    # The Normalization layer gets its statistics as constants: no weights to count.
    count = 0
    flops = 0
    cin = channels
    try:
        for b in range(int(p["depth"])):
            f = block_filters(p, b)
            convs: list[ConvPlan] = []
            block_in = hw
            for j in range(int(p["convs_per_block"])):
                name = f"block{b + 1}_conv{j + 1}"
                stride = int(p["stride"]) if j == 0 else 1
                pad = "same" if (p["residual"] and j > 0) else padding
                hw = _hw(hw, kernel, stride, pad, name)
                convs.append(ConvPlan(name, f, kernel, stride, pad, conv_bias, bn, hw))
                count += kernel * kernel * (cin if j == 0 else f) * f + (f if conv_bias else 0)
                count += 4 * f if bn else 0
                flops += 2 * kernel * kernel * (cin if j == 0 else f) * f * hw[0] * hw[1]
            projection = None
            if p["residual"]:
                stride = int(p["stride"])
                needs = cin != f or stride != 1 or (padding == "valid" and kernel > 1)
                if needs:
                    pk = 1 if padding == "same" else kernel
                    name = f"block{b + 1}_projection"
                    out = _hw(block_in, pk, stride, padding, name)
                    projection = ConvPlan(name, f, pk, stride, padding, not bn, bn, out)
                    count += pk * pk * cin * f + (0 if bn else f) + (4 * f if bn else 0)
                    flops += 2 * pk * pk * cin * f * out[0] * out[1]
            pool = None if p["pooling"] == "none" else str(p["pooling"])
            size = int(p["pool_size"])
            if pool is not None:
                name = f"block{b + 1}_{pool}pool"
                if min(hw) < size:
                    raise Infeasible(
                        f"{name} (window {size}) gets a {min(hw)}-pixel wide input, smaller "
                        "than its window")
                hw = ((hw[0] - size) // size + 1, (hw[1] - size) // size + 1)
            bp.blocks.append(BlockPlan(b + 1, tuple(convs), bool(p["residual"]), projection,
                                       pool, size, hw, f))
            cin = f
    except Infeasible as exc:
        bp.infeasible = str(exc)
        return bp
    features = bp.head_features
    units = int(p["dense_units"])
    if units:
        count += features * units + units
        flops += 2 * features * units
        features = units
    count += features * num_classes + num_classes
    flops += 2 * features * num_classes
    bp.param_count = count
    bp.flops = flops
    return bp
