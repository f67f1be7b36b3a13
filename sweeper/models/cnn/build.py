"""The built-in CNN as Keras layers, laid out by its blueprint and compiled with the sampled
optimizer.

Preprocessing lives inside the model (resize, augmentation, normalization), so a saved
model takes images exactly as decoded from files: 0-255, any size, the training channels.
"""

from __future__ import annotations

from typing import Any

import keras

from sweeper.models.cnn.blueprint import Blueprint, ConvPlan, plan
from sweeper.models.compile import compile_model
from sweeper.models.inputs import InputInfo

__all__ = ["augmentation_layers", "build_cnn", "preprocessing"]


def augmentation_layers(strength: float, horizontal_flip: bool) -> list[keras.layers.Layer]:
    """The ImageDataGenerator family as preprocessing layers, all scaled by one strength.

    At strength 1: rotation +-30 deg, shift +-15 %, zoom +-20 %, brightness +-20 %,
    contrast +-30 %, horizontal flip when allowed. Random layers are active only in training.
    No shear: Keras 3.15's RandomShear writes a config it cannot load back, and a saved
    model must load with plain ``keras.models.load_model``.
    """
    if strength <= 0:
        return []
    s = float(strength)
    layers: list[keras.layers.Layer] = [
        keras.layers.RandomRotation(30 / 360 * s, fill_mode="nearest", name="aug_rotation"),
        keras.layers.RandomTranslation(0.15 * s, 0.15 * s, fill_mode="nearest",
                                       name="aug_shift"),
        keras.layers.RandomZoom(0.2 * s, fill_mode="nearest", name="aug_zoom"),
        keras.layers.RandomBrightness(0.2 * s, value_range=(0, 255), name="aug_brightness"),
        keras.layers.RandomContrast(0.3 * s, value_range=(0, 255), name="aug_contrast"),
    ]
    if horizontal_flip:
        layers.append(keras.layers.RandomFlip("horizontal", name="aug_flip"))
    return layers


def preprocessing(info: InputInfo, augmentation: float) -> tuple[keras.KerasTensor, Any]:
    """Input of any size -> resized, augmented (training only), normalized tensor."""
    inputs = keras.Input(shape=(None, None, info.channels), name="image")
    x = keras.layers.Resizing(*info.image_size, name="resize")(inputs)
    for layer in augmentation_layers(augmentation, info.horizontal_flip):
        x = layer(x)
    if info.mean is None or info.variance is None:
        raise ValueError("the built-in CNN normalizes with the training split's statistics")
    x = keras.layers.Normalization(mean=info.mean.tolist(), variance=info.variance.tolist(),
                                   name="normalize")(x)
    return inputs, x


def _batch_norm(momentum: float, name: str) -> keras.layers.Layer:
    return keras.layers.BatchNormalization(momentum=momentum, name=name)


def _conv(x: Any, conv: ConvPlan, activation: str | None, bn_position: str,
          momentum: float) -> Any:
    x = keras.layers.Conv2D(conv.filters, conv.kernel, strides=conv.stride,
                            padding=conv.padding, use_bias=conv.use_bias, name=conv.name)(x)
    before = conv.batch_norm and bn_position == "before_activation"
    if before:
        x = _batch_norm(momentum, f"{conv.name}_bn")(x)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{conv.name}_act")(x)
    if conv.batch_norm and not before:
        x = _batch_norm(momentum, f"{conv.name}_bn")(x)
    return x


def build_cnn(params: dict[str, Any], info: InputInfo) -> keras.Model:
    """The built-in CNN for one parameter dict, compiled."""
    bp: Blueprint = plan(params, info.input_shape, info.num_classes)
    if not bp.feasible:
        raise ValueError(f"infeasible architecture: {bp.infeasible}")
    p = bp.params
    act, position = p["activation"], p["batch_norm_position"]
    momentum = float(p["batch_norm_momentum"])
    inputs, x = preprocessing(info, float(p["augmentation"]))
    for block in bp.blocks:
        shortcut = x
        last = len(block.convs) - 1
        for j, conv in enumerate(block.convs):
            residual_end = block.residual and j == last
            if residual_end and conv.batch_norm and position == "after_activation":
                # the activation (and its norm) come after the addition
                x = keras.layers.Conv2D(conv.filters, conv.kernel, strides=conv.stride,
                                        padding=conv.padding, use_bias=conv.use_bias,
                                        name=conv.name)(x)
            else:
                x = _conv(x, conv, None if residual_end else act, position, momentum)
        if block.residual:
            if block.projection is not None:
                shortcut = _conv(shortcut, block.projection, None, "before_activation",
                                 momentum)
            x = keras.layers.Add(name=f"block{block.index}_add")(
                [x, shortcut])
            x = keras.layers.Activation(act, name=f"block{block.index}_out")(x)
            if block.convs[last].batch_norm and position == "after_activation":
                x = _batch_norm(momentum, f"block{block.index}_bn")(x)
        if block.pool == "max":
            x = keras.layers.MaxPooling2D(block.pool_size, name=f"block{block.index}_maxpool")(x)
        elif block.pool == "avg":
            x = keras.layers.AveragePooling2D(block.pool_size,
                                              name=f"block{block.index}_avgpool")(x)
    head = p["head"]
    if bp.head_pool is not None:
        x = keras.layers.AveragePooling2D(bp.head_pool, name="head_avgpool")(x)
    if head in ("flatten", "auto"):
        x = keras.layers.Flatten(name="flatten")(x)
    elif head == "global_max":
        x = keras.layers.GlobalMaxPooling2D(name="global_pool")(x)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if int(p["dense_units"]):
        x = keras.layers.Dense(int(p["dense_units"]), activation=act, name="dense")(x)
    if float(p["dropout"]) > 0:
        x = keras.layers.Dropout(float(p["dropout"]), name="dropout")(x)
    outputs = keras.layers.Dense(info.num_classes, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name="sweeper_cnn")
    compile_model(model, p)
    return model
