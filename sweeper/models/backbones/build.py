"""A keras.applications backbone behind sweeper's preprocessing, under sweeper's head.

The model takes images as decoded from files (0-255, any size, the data's channels), like
the built-in CNN, so a saved model needs no outside preprocessing. Without weights the input
is normalized with the training split's statistics, as for the CNN; with a weights file it
gets what those weights were trained on (keras' ``preprocess_input`` as layers), because
frozen layers cannot adapt to another input.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from sweeper.models.backbones.catalog import Network, alpha_of, network_size, with_defaults
from sweeper.models.cnn.build import augmentation_layers, preprocessing
from sweeper.models.compile import compile_model
from sweeper.models.inputs import InputInfo

__all__ = ["build_backbone", "freeze", "make_backbone"]

_IMAGENET_MEAN_RGB = np.array([0.485, 0.456, 0.406]) * 255.0
_IMAGENET_STD_RGB = np.array([0.229, 0.224, 0.225]) * 255.0
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])
_IMAGENET_STD = np.array([0.229, 0.224, 0.225])  # what Keras's EfficientNet files hold as variance


def make_backbone(network: Network, params: dict[str, Any], input_shape: tuple[int, int, int],
                  weights: str | None, own_preprocessing: bool | None = None) -> keras.Model:
    """The bare network: no top, global average pooling, ``weights`` loaded by Keras.

    ``own_preprocessing`` (default: with weights) keeps the network's input scaling layer
    where Keras lets it be turned off; sweeper's normalization replaces it otherwise.
    """
    kwargs: dict[str, Any] = {"include_top": False, "weights": weights,
                              "input_shape": input_shape, "pooling": "avg"}
    if network.alphas:
        kwargs["alpha"] = alpha_of(network, params)
    if network.minimalistic:
        kwargs["minimalistic"] = bool(params.get("minimalistic", False))
    if network.preprocessing_arg:
        kwargs["include_preprocessing"] = (weights is not None if own_preprocessing is None
                                           else own_preprocessing)
    constructor = getattr(keras.applications, network.constructor)
    model: keras.Model = constructor(**kwargs)
    return model


def freeze(backbone: keras.Model, trainable_layers: int | None) -> None:
    """Only the last ``trainable_layers`` layers holding weights train (None: all).

    Keras 3 runs a frozen BatchNormalization in inference mode, so the frozen part keeps the
    file's moving statistics while the rest fine-tunes.
    """
    layers = backbone.layers
    weighted = [i for i, layer in enumerate(layers) if layer.weights]
    if trainable_layers is None or trainable_layers >= len(weighted):
        cut = 0
    elif trainable_layers == 0:
        cut = len(layers)
    else:
        cut = weighted[-trainable_layers]
    for i, layer in enumerate(layers):
        layer.trainable = i >= cut


def _set_batch_norm_momentum(backbone: keras.Model, momentum: float | None) -> None:
    if momentum is None:
        return
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)


def _imagenet_input(network: Network, x: Any) -> Any:
    """keras' preprocess_input for ``network``'s ImageNet weights, as saveable layers."""
    if network.imagenet_input == "tf":
        return keras.layers.Normalization(mean=127.5, variance=127.5**2,
                                          name="imagenet_input")(x)
    if network.imagenet_input == "torch":
        return keras.layers.Normalization(mean=_IMAGENET_MEAN_RGB.tolist(),
                                          variance=(_IMAGENET_STD_RGB**2).tolist(),
                                          name="imagenet_input")(x)
    if network.imagenet_input == "caffe":
        # RGB -> BGR minus the mean: a fixed dense map over the channels. Kept in a nested
        # model so the diagnosis does not take it for the first trained kernel.
        flip = keras.layers.Dense(3, name="rgb_to_bgr")
        caffe = keras.Sequential([keras.Input((None, None, 3)), flip], name="imagenet_input")
        flip.set_weights([np.eye(3)[::-1].astype("float32"),
                          (-_CAFFE_MEAN_BGR).astype("float32")])
        caffe.trainable = False
        return caffe(x)
    return x  # raw: the network scales 0-255 itself


def _efficientnet_stddev(backbone: keras.Model, x: Any) -> Any:
    """Keras's EfficientNet (v1) divides by the ImageNet deviation once more, after its
    Normalization layer, only when built with ``weights="imagenet"``: that file's
    Normalization holds the deviation as its variance (keras issue 49930). Loaded from a
    file instead, the network lacks that layer; the same map in front of it, x' = x/sqrt(s) +
    255 m (1 - 1/sqrt(s)), makes its stem see what the weights were trained on."""
    normalization = next((layer for layer in backbone.layers
                          if isinstance(layer, keras.layers.Normalization)), None)
    if normalization is None or not backbone.name.startswith("efficientnetb"):
        return x
    stored = normalization.get_weights()  # the file's: mean, variance, count
    if len(stored) < 2:
        return x
    mean, variance = (np.asarray(w, dtype="float64").reshape(-1) for w in stored[:2])
    if variance.shape != (3,) or not np.allclose(variance, _IMAGENET_STD, atol=1e-4):
        return x  # not Keras's ImageNet file: its Normalization is the whole story
    scale = 1.0 / np.sqrt(_IMAGENET_STD)
    return keras.layers.Rescaling(scale=scale.tolist(),
                                  offset=(255.0 * mean * (1.0 - scale)).tolist(),
                                  name="imagenet_stddev")(x)


def _inputs(network: Network, info: InputInfo, augmentation: float,
            pretrained: bool) -> tuple[keras.KerasTensor, Any]:
    """Raw pixels -> the data's size, augmented (training only), scaled for the network."""
    if not pretrained and network.fixed_input_scale == 1.0:
        return preprocessing(info, augmentation)  # the CNN's: resize, augment, normalize
    inputs = keras.Input(shape=(None, None, info.channels), name="image")
    x = keras.layers.Resizing(*info.image_size, name="resize")(inputs)
    for layer in augmentation_layers(augmentation, info.horizontal_flip):
        x = layer(x)
    if pretrained:
        if info.channels == 1:
            x = keras.layers.Concatenate(name="gray_to_rgb")([x, x, x])
        return inputs, _imagenet_input(network, x)
    if info.mean is None or info.variance is None:
        raise ValueError("a backbone without weights normalizes with the training split's "
                         "statistics")
    # the network divides by fixed_input_scale next: normalize to that much wider a range
    scale = network.fixed_input_scale
    x = keras.layers.Normalization(mean=info.mean.tolist(),
                                   variance=(info.variance / scale**2).tolist(),
                                   name="normalize")(x)
    return inputs, x


def build_backbone(network: Network, params: dict[str, Any], info: InputInfo,
                   weights: str | None) -> keras.Model:
    """The compiled classifier of one configuration: preprocessing, backbone, head."""
    pretrained = weights is not None
    p = with_defaults(network, params, pretrained)
    if pretrained and info.channels not in (1, 3):
        raise ValueError(f"model.weights needs 1- or 3-channel images, got {info.channels} "
                         "channels (set data.channels)")
    inputs, x = _inputs(network, info, float(p["augmentation"]), pretrained)
    size = network_size(network, info.image_size)
    if size != tuple(info.image_size):
        x = keras.layers.Resizing(*size, name="resize_to_network")(x)
    channels = 3 if pretrained else info.channels
    backbone = make_backbone(network, p, (*size, channels), weights)
    _set_batch_norm_momentum(backbone, p["batch_norm_momentum"])
    if pretrained:
        freeze(backbone, p["trainable_layers"])
    if pretrained:
        x = _efficientnet_stddev(backbone, x)
    x = backbone(x)
    if int(p["dense_units"]):
        x = keras.layers.Dense(int(p["dense_units"]), activation="relu", name="dense")(x)
    if float(p["dropout"]) > 0:
        x = keras.layers.Dropout(float(p["dropout"]), name="dropout")(x)
    outputs = keras.layers.Dense(info.num_classes, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name=f"sweeper_{network.name}")
    compile_model(model, p)
    return model
