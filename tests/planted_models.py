"""The custom builders of tests/planted.py's recipes: healthy models of several kinds, and
models with one learning problem planted (``model.kind: tests.planted_models:NAME``,
imported from the repository root)."""

from __future__ import annotations

from typing import Any

import keras

# -- custom builders: build(params, input_shape, num_classes) -> compiled keras.Model


def _compile(model: keras.Model, optimizer: Any = "adam",
             loss: str = "sparse_categorical_crossentropy") -> keras.Model:
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def _convs(x: Any, filters: tuple[int, ...] = (16, 32), **conv: Any) -> Any:
    for f in filters:
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", **conv)(x)
        x = keras.layers.MaxPooling2D(padding="same")(x)
    return x


def healthy_sequential(params: dict[str, Any], input_shape: tuple[int, ...],
                       num_classes: int) -> keras.Model:
    """The seed article's Example 2 CNN: rescaled input, two conv blocks, dense head."""
    model = keras.Sequential([
        keras.Input(input_shape), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(padding="same"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(padding="same"), keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(num_classes, activation="softmax")])
    return _compile(model)


def healthy_regularized(params: dict[str, Any], input_shape: tuple[int, ...],
                        num_classes: int) -> keras.Model:
    """The seed's CNN with L2 weight regularizers (their losses are part of the loss)."""
    l2 = keras.regularizers.L2(1e-4)
    model = keras.Sequential([
        keras.Input(input_shape), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", kernel_regularizer=l2),
        keras.layers.MaxPooling2D(padding="same"), keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu", kernel_regularizer=l2),
        keras.layers.Dense(num_classes, activation="softmax")])
    return _compile(model)


def healthy_residual(params: dict[str, Any], input_shape: tuple[int, ...],
                     num_classes: int) -> keras.Model:
    """Functional: batch norm before ReLU layers, a residual block, a tanh dense head."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(32, 3, padding="same", use_bias=False)(x)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(x))
    shortcut = x
    x = keras.layers.Conv2D(32, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.ReLU()(keras.layers.Add()([x, shortcut]))
    x = keras.layers.MaxPooling2D(padding="same")(x)
    x = keras.layers.Conv2D(64, 3, padding="same", use_bias=False)(x)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(x))
    x = keras.layers.Flatten()(keras.layers.MaxPooling2D(padding="same")(x))
    x = keras.layers.Dense(64, activation="tanh")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return _compile(keras.Model(inputs, outputs))


@keras.saving.register_keras_serializable(package="planted")
class Subclassed(keras.Model):
    """Layers called inside ``call``: the probe sees its gradients, not its activations."""

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.scale = keras.layers.Rescaling(1 / 255)
        self.conv1 = keras.layers.Conv2D(32, 3, padding="same", activation="relu")
        self.pool = keras.layers.MaxPooling2D(padding="same")
        self.conv2 = keras.layers.Conv2D(32, 3, padding="same", activation="relu")
        self.flat = keras.layers.Flatten()
        self.dense = keras.layers.Dense(64, activation="relu")
        self.out = keras.layers.Dense(num_classes, activation="softmax")

    def call(self, x: Any, training: bool = False) -> Any:
        x = self.pool(self.conv1(self.scale(x)))
        return self.out(self.dense(self.flat(self.pool(self.conv2(x)))))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes}


def healthy_subclassed(params: dict[str, Any], input_shape: tuple[int, ...],
                       num_classes: int) -> keras.Model:
    model = Subclassed(num_classes)
    model.build((None, *input_shape))
    return _compile(model)


@keras.saving.register_keras_serializable(package="planted")
class WideSubclassed(keras.Model):
    """A subclassed model on raw pixels with a wide initialization: only its gradients can
    be probed, and they explode."""

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        init = keras.initializers.RandomNormal(stddev=0.5)
        self.flat = keras.layers.Flatten()
        self.hidden = [keras.layers.Dense(128, activation="relu", kernel_initializer=init)
                       for _ in range(4)]
        self.out = keras.layers.Dense(num_classes, activation="softmax",
                                      kernel_initializer=init)

    def call(self, x: Any, training: bool = False) -> Any:
        x = self.flat(x)
        for layer in self.hidden:
            x = layer(x)
        return self.out(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes}


def exploding_subclassed(params: dict[str, Any], input_shape: tuple[int, ...],
                         num_classes: int) -> keras.Model:
    model = WideSubclassed(num_classes)
    model.build((None, *input_shape))
    return _compile(model, keras.optimizers.SGD(1e-6))


def by_mode(params: dict[str, Any], input_shape: tuple[int, ...],
            num_classes: int) -> keras.Model:
    """``mode``: healthy (the seed's CNN) or dead (negative ReLU biases), for sweeps."""
    build = dead_relu if params["mode"] == "dead" else healthy_sequential
    return build(params, input_shape, num_classes)


def exploding(params: dict[str, Any], input_shape: tuple[int, ...],
              num_classes: int) -> keras.Model:
    """Raw 0-255 pixels into deep unnormalized dense layers with a wide initialization."""
    init = keras.initializers.RandomNormal(stddev=0.5)
    layers: list[Any] = [keras.Input(input_shape), keras.layers.Flatten()]
    layers += [keras.layers.Dense(128, activation="relu", kernel_initializer=init)
               for _ in range(4)]
    layers.append(keras.layers.Dense(num_classes, activation="softmax", kernel_initializer=init))
    return _compile(keras.Sequential(layers), keras.optimizers.SGD(1e-6))


def vanishing(params: dict[str, Any], input_shape: tuple[int, ...],
              num_classes: int) -> keras.Model:
    """Ten sigmoid layers, no normalization: the seed article's vanishing gradients."""
    layers: list[Any] = [keras.Input(input_shape), keras.layers.Rescaling(1 / 255),
                         keras.layers.Flatten()]
    layers += [keras.layers.Dense(64, activation="sigmoid") for _ in range(10)]
    layers.append(keras.layers.Dense(num_classes, activation="softmax"))
    return _compile(keras.Sequential(layers), keras.optimizers.SGD(0.01))


def dead_relu(params: dict[str, Any], input_shape: tuple[int, ...],
              num_classes: int) -> keras.Model:
    """ReLU layers whose biases start far below zero: their units never fire."""
    bias = keras.initializers.Constant(-20.0)
    return _compile(keras.Sequential([
        keras.Input(input_shape), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu", bias_initializer=bias),
        keras.layers.Dense(128, activation="relu", bias_initializer=bias),
        keras.layers.Dense(num_classes, activation="softmax")]))


def diverging(params: dict[str, Any], input_shape: tuple[int, ...],
              num_classes: int) -> keras.Model:
    """A learning rate that doubles every 8 steps: it overshoots within two epochs."""
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=8,
                                                           decay_rate=2.0)
    inputs = keras.Input(input_shape)
    x = _convs(keras.layers.Rescaling(1 / 255)(inputs))
    outputs = keras.layers.Dense(num_classes, activation="softmax")(keras.layers.Flatten()(x))
    return _compile(keras.Model(inputs, outputs), keras.optimizers.SGD(schedule))


def unnormalized(params: dict[str, Any], input_shape: tuple[int, ...],
                 num_classes: int) -> keras.Model:
    """The seed's CNN without its Rescaling layer: 0-255 pixels into the first conv."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(_convs(inputs))
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return _compile(keras.Model(inputs, outputs), keras.optimizers.Adam(1e-4))


def over_augmented(params: dict[str, Any], input_shape: tuple[int, ...],
                   num_classes: int) -> keras.Model:
    """Random erasing of up to half the image, 30% shifts and 50% zoom: training images are
    much harder than the validation images."""
    inputs = keras.Input(input_shape)
    x = keras.layers.RandomErasing(factor=1.0, scale=(0.3, 0.5), value_range=(0, 255))(inputs)
    x = keras.layers.RandomTranslation(0.3, 0.3, fill_mode="constant")(x)
    x = keras.layers.RandomZoom(0.5, fill_mode="constant")(x)
    x = keras.layers.Rescaling(1 / 255)(x)
    x = keras.layers.Flatten()(_convs(x, (32, 64)))
    x = keras.layers.Dense(128, activation="relu")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return _compile(keras.Model(inputs, outputs))


@keras.saving.register_keras_serializable(package="planted")
class TrainOnlyRescaling(keras.layers.Layer):
    """Training images scaled to [0, 1]; validation images arrive inverted (as when the
    validation files are decoded another way): the two splits no longer match."""

    def call(self, x: Any, training: bool = False) -> Any:
        return x / 255.0 if training else (255.0 - x) / 255.0


def leaky_preprocessing(params: dict[str, Any], input_shape: tuple[int, ...],
                        num_classes: int) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(_convs(TrainOnlyRescaling()(inputs)))
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return _compile(keras.Model(inputs, outputs))


def crawling(params: dict[str, Any], input_shape: tuple[int, ...],
             num_classes: int) -> keras.Model:
    """The seed's CNN with a learning rate of 1e-7: the loss stays at ln(classes)."""
    model = healthy_sequential(params, input_shape, num_classes)
    return _compile(model, keras.optimizers.SGD(1e-7))


def memorizing(params: dict[str, Any], input_shape: tuple[int, ...],
               num_classes: int) -> keras.Model:
    """Two wide dense layers, no dropout, no augmentation: memorizes the training split."""
    return _compile(keras.Sequential([
        keras.Input(input_shape), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
        keras.layers.Dense(1024, activation="relu"), keras.layers.Dense(1024, activation="relu"),
        keras.layers.Dense(num_classes, activation="softmax")]), keras.optimizers.Adam(3e-3))


def nan_maker(params: dict[str, Any], input_shape: tuple[int, ...],
              num_classes: int) -> keras.Model:
    """Raw pixels, linear layers and a learning rate of 100: the loss is NaN within a few
    steps."""
    model = keras.Sequential([
        keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(64),
        keras.layers.Dense(num_classes, activation="softmax")])
    return _compile(model, keras.optimizers.SGD(100.0))
