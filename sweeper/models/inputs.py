"""What a model kind is told about the data, and what it can say about a configuration
without building it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["InputInfo", "ModelDescription"]


@dataclass(frozen=True)
class InputInfo:
    """The images a model takes and the classes it tells apart.

    ``mean`` and ``variance`` (per channel, of the training split) are known once the data
    is loaded; ``sweeper validate`` describes architectures from the shape alone.
    """

    image_size: tuple[int, int]
    channels: int
    num_classes: int
    mean: np.ndarray | None = None
    variance: np.ndarray | None = None
    horizontal_flip: bool = False

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (*self.image_size, self.channels)


@dataclass(frozen=True)
class ModelDescription:
    """What a kind knows of one configuration before building it (None: unknown)."""

    param_count: int | None = None
    flops: int | None = None
    infeasible: str | None = None  # why it cannot be built, when known

    @property
    def feasible(self) -> bool:
        return self.infeasible is None

    def logged(self) -> dict[str, int]:
        """The derived values a trial's MLflow run records."""
        return {} if self.flops is None else {"flops": self.flops}
