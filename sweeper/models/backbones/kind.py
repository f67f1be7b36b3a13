"""A keras.applications network as a model kind: ``model.kind: resnet50v2`` and the rest.

One class serves every network; an instance carries its network's name and the resolved
``model.weights`` path, since a trial on a Ray worker builds from the instance alone. The
parameter count comes from the measured table plus the head, so neither ``sweeper
validate`` nor the driver needs TensorFlow; FLOPs depend on the image size through every
layer, so they are measured once the model is built (``sweeper.models.cost``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sweeper.config.loaded import LoadedSpec
from sweeper.errors import Problem
from sweeper.models.backbones.catalog import BACKBONES, variant, with_defaults
from sweeper.models.backbones.check import check_backbone, weights_path
from sweeper.models.backbones.counts import COUNTS
from sweeper.models.inputs import InputInfo, ModelDescription

if TYPE_CHECKING:
    import keras

__all__ = ["CAFFE_INPUT_PARAMS", "BackboneKind"]

# the fixed RGB -> BGR map (3x3 kernel, 3 offsets) before a caffe-style network's weights
CAFFE_INPUT_PARAMS = 12


class BackboneKind:
    """``model.kind: <network>``: a keras.applications backbone under sweeper's head."""

    describes = True

    def __init__(self, name: str, weights: str | None = None) -> None:
        self.name = name
        self.network = BACKBONES[name]
        self.weights = weights  # an absolute path, or None: random initialization

    @classmethod
    def from_spec(cls, loaded: LoadedSpec) -> BackboneKind:
        path = weights_path(loaded)
        return cls(loaded.spec.model.kind, None if path is None else str(path.resolve()))

    def check(self, loaded: LoadedSpec) -> list[Problem]:
        return check_backbone(loaded, self.network)

    def describe(self, params: dict[str, Any], info: InputInfo) -> ModelDescription:
        pretrained = self.weights is not None
        p = with_defaults(self.network, params, pretrained)
        if pretrained and info.channels not in (1, 3):
            return ModelDescription(infeasible=f"model.weights needs 1- or 3-channel images, "
                                               f"got {info.channels} channels")
        count = COUNTS.get(self.name, {}).get(variant(self.network, p))
        if count is None:  # knob values the file's check refuses
            return ModelDescription()
        channels = 3 if pretrained else info.channels
        total = count.params + (channels - 3) * count.per_channel
        if pretrained and self.network.imagenet_input == "caffe":
            total += CAFFE_INPUT_PARAMS
        features = count.features
        units = int(p["dense_units"])
        if units:
            total += features * units + units
            features = units
        total += features * info.num_classes + info.num_classes
        return ModelDescription(param_count=total)

    def build(self, params: dict[str, Any], info: InputInfo) -> keras.Model:
        from sweeper.models.backbones.build import build_backbone

        return build_backbone(self.network, params, info, self.weights)

    def defaults(self) -> dict[str, Any]:
        return with_defaults(self.network, {}, self.weights is not None)
