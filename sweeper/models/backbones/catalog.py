"""The keras.applications networks sweeper offers as ``model.kind``, and their knobs.

Each entry records what Keras' own constructor demands (read from keras/src/applications in
Keras 3.15): the smallest input side its ``obtain_input_shape`` accepts, the width
multipliers (``alpha``) it has ImageNet weights for, and what its ImageNet weights expect as
input. Kept free of TensorFlow, like the CNN's catalog, so a file is checked in a moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from sweeper.models.cnn.catalog import CNN_HYPERPARAMETERS, Hyperparameter

__all__ = ["BACKBONES", "NETWORK_KNOBS", "TRAINABLE_LAYERS", "Count", "Network",
           "alpha_of", "backbone_hyperparameters", "network_size", "variant", "variants",
           "with_defaults"]

# What the network's ImageNet weights were trained on, as keras' preprocess_input makes it:
# tf = x / 127.5 - 1; torch = x / 255 standardized per channel with ImageNet's statistics;
# caffe = BGR order minus ImageNet's mean, 0-255; raw = 0-255, the network scales it itself.
ImagenetInput = Literal["tf", "torch", "caffe", "raw"]


@dataclass(frozen=True)
class Network:
    """One keras.applications network as a model kind."""

    name: str  # the model.kind
    constructor: str  # its function in keras.applications
    min_size: int  # smallest height and width Keras builds it at
    imagenet_input: ImagenetInput
    # takes include_preprocessing (turned off without weights: sweeper normalizes instead)
    preprocessing_arg: bool = False
    # divides its input by this in a layer that cannot be turned off (EfficientNet: 255)
    fixed_input_scale: float = 1.0
    alphas: tuple[float, ...] = ()  # width multipliers Keras has ImageNet weights for
    default_alpha: float | None = None
    minimalistic: bool = False  # MobileNetV3's variant without squeeze-excite and hard-swish


def _efficientnets() -> list[Network]:
    v1 = [Network(f"efficientnet_b{i}", f"EfficientNetB{i}", 32, "raw",
                  fixed_input_scale=255.0) for i in range(8)]
    v2 = [Network(f"efficientnetv2_{s.lower()}", f"EfficientNetV2{s}", 32, "raw",
                  preprocessing_arg=True) for s in ("B0", "B1", "B2", "B3", "S", "M", "L")]
    return v1 + v2


def _mobilenet_v3(size: str) -> Network:
    return Network(f"mobilenet_v3_{size}", f"MobileNetV3{size.capitalize()}", 32, "raw",
                   preprocessing_arg=True, alphas=(0.75, 1.0), default_alpha=0.75,
                   minimalistic=True)


_NETWORKS = [
    Network("resnet50", "ResNet50", 32, "caffe"),
    Network("resnet101", "ResNet101", 32, "caffe"),
    Network("resnet152", "ResNet152", 32, "caffe"),
    Network("resnet50v2", "ResNet50V2", 32, "tf"),
    Network("resnet101v2", "ResNet101V2", 32, "tf"),
    Network("resnet152v2", "ResNet152V2", 32, "tf"),
    Network("mobilenet", "MobileNet", 32, "tf", alphas=(0.25, 0.5, 0.75, 1.0),
            default_alpha=0.25),
    Network("mobilenet_v2", "MobileNetV2", 32, "tf", alphas=(0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
            default_alpha=0.35),
    _mobilenet_v3("small"),
    _mobilenet_v3("large"),
    *_efficientnets(),
    Network("inception_v3", "InceptionV3", 75, "tf"),
    Network("inception_resnet_v2", "InceptionResNetV2", 75, "tf"),
    Network("xception", "Xception", 71, "tf"),
    Network("densenet121", "DenseNet121", 32, "torch"),
    Network("densenet169", "DenseNet169", 32, "torch"),
    Network("densenet201", "DenseNet201", 32, "torch"),
    Network("vgg16", "VGG16", 32, "caffe"),
    Network("vgg19", "VGG19", 32, "caffe"),
    Network("nasnetmobile", "NASNetMobile", 32, "tf"),
    Network("nasnetlarge", "NASNetLarge", 32, "tf"),
    *(Network(f"convnext_{s.lower()}", f"ConvNeXt{s}", 32, "raw", preprocessing_arg=True)
      for s in ("Tiny", "Small", "Base", "Large", "XLarge")),
]

BACKBONES: dict[str, Network] = {n.name: n for n in _NETWORKS}


class Count(NamedTuple):
    """One network variant as ``tools/backbone_counts.py`` measured it (include_top=False,
    pooling avg): parameters at 3 input channels, parameters per further input channel
    (the first convolution's, and EfficientNet's input normalization), the pooled feature
    width the head sees, and how many of its layers hold weights."""

    params: int
    per_channel: int
    features: int
    weighted_layers: int


# The optimizer's knobs, the batch and the augmentation mean what they mean for the CNN
# (sweeper.models.compile and cnn.build read them), so their rules are the CNN's.
_SHARED = ("optimizer", "learning_rate", "momentum", "nesterov", "weight_decay", "batch_size",
           "dense_units", "augmentation")

_HEAD_AND_TRAINING = [
    Hyperparameter("dropout", float, 0.2, "dropout rate before the classifier",
                   low=0.0, high=1.0, high_inclusive=False),
    Hyperparameter("batch_norm_momentum", float, 0.9,
                   "momentum of every batch norm of the backbone; null = the network's own "
                   "(0.99, MobileNetV2 0.999: too slow for small data sets)",
                   low=0.0, high=1.0, high_inclusive=False, nullable=True),
]

TRAINABLE_LAYERS = Hyperparameter(
    "trainable_layers", int, None,
    "with model.weights: how many of the backbone's last layers with weights train (the rest "
    "stay frozen, their batch norms in inference mode); null = all", low=0, high=100_000,
    nullable=True)

# knobs only some networks have
NETWORK_KNOBS = ("alpha", "minimalistic")


def _dense_units() -> Hyperparameter:
    rule = CNN_HYPERPARAMETERS["dense_units"]
    return Hyperparameter(rule.name, rule.type, 0, "hidden dense layer width after the "
                          "pooled features; 0 = none", low=rule.low, high=rule.high)


def backbone_hyperparameters(network: Network, weights: bool) -> dict[str, Hyperparameter]:
    """Every parameter ``network`` takes, with its rule and default (``trainable_layers``
    only with weights)."""
    table = {name: CNN_HYPERPARAMETERS[name] for name in _SHARED}
    table["dense_units"] = _dense_units()
    table.update({h.name: h for h in _HEAD_AND_TRAINING})
    if network.alphas:
        table["alpha"] = Hyperparameter(
            "alpha", float, network.default_alpha, "width multiplier of every layer",
            choices=network.alphas)
    if network.minimalistic:
        table["minimalistic"] = Hyperparameter(
            "minimalistic", bool, False, "no squeeze-excite, hard-swish or 5x5 convolutions")
    if weights:
        table["trainable_layers"] = TRAINABLE_LAYERS
    return table


def with_defaults(network: Network, params: dict[str, Any], weights: bool) -> dict[str, Any]:
    """The full parameter dict of one configuration: given values over the defaults."""
    full = {name: h.default for name, h in backbone_hyperparameters(network, weights).items()}
    full.update(params)
    return full


def alpha_of(network: Network, params: dict[str, Any]) -> float:
    """The width multiplier of a configuration (1.0 for networks without one)."""
    value = params.get("alpha", network.default_alpha)
    return 1.0 if value is None else float(value)


def variant(network: Network, params: dict[str, Any]) -> str:
    """The key of the network's counts for these knob values ('' without knobs)."""
    parts = []
    if network.alphas:
        parts.append(f"alpha={alpha_of(network, params)}")
    if network.minimalistic:
        parts.append(f"minimalistic={bool(params.get('minimalistic', False))}")
    return ",".join(parts)


def variants(network: Network) -> list[dict[str, Any]]:
    """Every knob combination the catalog allows (one empty dict without knobs)."""
    alphas: list[dict[str, Any]] = [{"alpha": a} for a in network.alphas] or [{}]
    if not network.minimalistic:
        return alphas
    return [{**a, "minimalistic": m} for a in alphas for m in (False, True)]


def network_size(network: Network, image_size: tuple[int, int]) -> tuple[int, int]:
    """What the network sees: each side below its minimum is resized up to it."""
    return (max(image_size[0], network.min_size), max(image_size[1], network.min_size))
