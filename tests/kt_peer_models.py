"""Hypermodels from KerasTuner's own test suite, run by sweeper as a peer's cases.

Copied from https://github.com/keras-team/keras-tuner at commit
417e5b5e8df924d428a3c64007f3ed47bd4c7026 (Apache License 2.0, Copyright 2019 The KerasTuner
Authors); each keeps its name and its body. What was adapted, and only that:

- ``build_model`` and ``ExampleHyperModel`` (keras_tuner/engine/tuner_test.py, module level):
  ``keras.Input(shape=(INPUT_DIM,))`` takes digits' 8x8x1 images and a ``Flatten`` follows
  it (their ``INPUT_DIM = 2`` vectors); ``NUM_CLASSES = 3`` is 10. ``from keras_tuner.backend
  import keras`` is ``import keras`` (the same Keras).
- ``ConditionalHyperModel`` (tuner_test.py, test_init_build_all_hps_in_all_conditions):
  it subclassed the test's ``MockHyperModel``, whose ``build`` returns a fake model that
  cannot train; it subclasses ``keras_tuner.HyperModel`` here, and ``return
  super().build(hp)`` returns a small digits model built from the active values.
- ``build_parent_arg`` (tuner_test.py, test_populate_initial_space_with_hp_parent_arg's
  ``build_model``, renamed): unchanged.
- ``build_same_name_two_ranges`` (keras_tuner/engine/hyperparameters/hyperparameters_test.py,
  test_build_with_conditional_scope's ``build_model``, renamed): unchanged; one name, two
  ranges under two conditions, which sweeper refuses with a located message.

``BatchSizeHyperModel`` is ours, not KerasTuner's: ``ExampleHyperModel`` with a ``fit`` that
tunes the batch size the way KerasTuner's ``HyperModel.fit`` docstring tunes ``epochs``.
"""

import keras
import keras_tuner

INPUT_SHAPE = (8, 8, 1)  # adapted: digits (KerasTuner's tests: INPUT_DIM = 2)
NUM_CLASSES = 10  # adapted: digits (KerasTuner's tests: 3)


def build_model(hp):
    inputs = keras.Input(shape=INPUT_SHAPE)
    x = keras.layers.Flatten()(inputs)
    for i in range(hp.Int("num_layers", 1, 4)):
        x = keras.layers.Dense(
            units=hp.Int(f"units_{str(i)}", 5, 9, 1, default=6),  # noqa: RUF010 (verbatim)
            activation="relu",
        )(x)

    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(
            hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4])
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class ExampleHyperModel(keras_tuner.HyperModel):
    def build(self, hp):
        inputs = keras.Input(shape=INPUT_SHAPE)
        x = keras.layers.Flatten()(inputs)
        for i in range(hp.Int("num_layers", 1, 4)):
            x = keras.layers.Dense(
                units=hp.Int(f"units_{str(i)}", 5, 9, 1, default=6),  # noqa: RUF010 (verbatim)
                activation="relu",
            )(x)

        outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(
                hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4])
            ),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, shuffle=hp.Boolean("shuffle"), **kwargs)


class BatchSizeHyperModel(ExampleHyperModel):
    """Ours: the batch size is the fit's hyperparameter (Keras takes it with arrays only)."""

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)


def _digits_model(values):
    """Adapted: a model that trains, from the values ConditionalHyperModel declared."""
    inputs = keras.Input(shape=INPUT_SHAPE)
    x = keras.layers.Rescaling(1 / 16)(inputs)
    if values["model_type"] == "cnn":
        filters = values.get("n_filters_a") or values.get("n_filters_b")
        x = keras.layers.Conv2D(filters, 3, activation="relu")(x)
        x = keras.layers.Flatten()(x)
    else:
        x = keras.layers.Flatten()(x)
        units = values.get("n_units_a") or values.get("n_units_b")
        x = keras.layers.Dense(units, activation="relu")(x)
    if values.get("more_block"):
        for _ in range(values["new_block_hp"]):
            x = keras.layers.Dense(16, activation="relu")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class ConditionalHyperModel(keras_tuner.HyperModel):
    def build(self, hp):
        model_type = hp.Choice("model_type", ["cnn", "mlp"])
        with hp.conditional_scope("model_type", ["cnn"]):
            if model_type == "cnn":
                sub_cnn = hp.Choice("sub_cnn", ["a", "b"])
                with hp.conditional_scope("sub_cnn", ["a"]):
                    if sub_cnn == "a":
                        hp.Int("n_filters_a", 2, 4)
                with hp.conditional_scope("sub_cnn", ["b"]):
                    if sub_cnn == "b":
                        hp.Int("n_filters_b", 6, 8)
        with hp.conditional_scope("model_type", ["mlp"]):
            if model_type == "mlp":
                sub_mlp = hp.Choice("sub_mlp", ["a", "b"])
                with hp.conditional_scope("sub_mlp", ["a"]):
                    if sub_mlp == "a":
                        hp.Int("n_units_a", 2, 4)
                with hp.conditional_scope("sub_mlp", ["b"]):
                    if sub_mlp == "b":
                        hp.Int("n_units_b", 6, 8)
        more_block = hp.Boolean("more_block", default=False)
        with hp.conditional_scope("more_block", [True]):
            if more_block:
                hp.Int("new_block_hp", 1, 3)
        return _digits_model(hp.values)  # adapted: was super().build(hp), a fake model


def build_parent_arg(hp):
    hp.Boolean("parent", default=True)
    hp.Boolean(
        "child",
        parent_name="parent",
        parent_values=[False],
    )
    return keras.Sequential()


def build_same_name_two_ranges(hp):
    model = hp.Choice("model", ["v1", "v2"])
    with hp.conditional_scope("model", "v1"):
        v1_params = {
            "layers": hp.Int("layers", 1, 3),
            "units": hp.Int("units", 16, 32),
        }
    with hp.conditional_scope("model", "v2"):
        v2_params = {
            "layers": hp.Int("layers", 2, 4),
            "units": hp.Int("units", 32, 64),
        }

    params = v1_params if model == "v1" else v2_params
    inputs = keras.Input(shape=(10,))
    x = inputs
    for _ in range(params["layers"]):
        x = keras.layers.Dense(params["units"])(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "mse")
    return model
