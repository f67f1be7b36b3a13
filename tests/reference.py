"""Models trained side by side on one split: the seed article's CNN and sweeper's built-in
CNN from a parameter dict (built as a trial builds it). Shared by tests and benchmarks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from sweeper.data.dataset import Dataset
from sweeper.data.pipeline import pipeline

# sweeper's defaults before they were changed to learn on small data
PREVIOUS_DEFAULTS = {"head": "global_avg", "batch_norm_position": "before_activation",
                     "batch_norm_momentum": 0.99}
SEED_CNN = "seed"
SWEEPER_CNN = "sweeper"


def seed_cnn(classes: int, shape: tuple[int, ...]) -> Any:
    """The seed article's Example 2 as users write it: Conv32-Pool-Conv64-Pool-Flatten-
    Dense128, inputs rescaled to 0-1, Adam."""
    import keras

    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape), layers.Rescaling(1 / 255),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(128, activation="relu"),
        layers.Dense(classes, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def sweeper_cnn(params: dict[str, Any], data: Dataset, flip: bool) -> Any:
    from sweeper.models.cnn.build import build_cnn
    from sweeper.models.inputs import InputInfo

    mean, variance = data.channel_stats()
    info = InputInfo(data.image_size, data.channels, data.num_classes, mean, variance, flip)
    return build_cnn(params, info)


def fit(model: Any, data: Dataset, epochs: int, batch_size: int, seed: int) -> dict[str, Any]:
    """Validation accuracy per epoch; the best epoch's weights on the test split."""
    import keras

    keep_best = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max",
                                              patience=epochs + 1, restore_best_weights=True)
    started = time.monotonic()
    history = model.fit(pipeline(data.x_train, data.y_train, batch_size, training=True,
                                 seed=seed),
                        validation_data=pipeline(data.x_val, data.y_val, batch_size,
                                                 training=False, seed=seed),
                        epochs=epochs, verbose=0, callbacks=[keep_best])
    curve = [float(v) for v in history.history["val_accuracy"]]
    row: dict[str, Any] = {"curve": curve, "best_val": max(curve),
                           "seconds": time.monotonic() - started, "model": model}
    if data.x_test is not None and data.y_test is not None:
        test = model.evaluate(pipeline(data.x_test, data.y_test, 128, training=False, seed=0),
                              verbose=0, return_dict=True)
        row["test"] = float(test["accuracy"])
    return row


def train(kind: str, params: dict[str, Any], data: Dataset, epochs: int, seed: int,
          flip: bool = False) -> dict[str, Any]:
    """SEED_CNN (params ignored) or SWEEPER_CNN."""
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    if kind == SEED_CNN:
        return fit(seed_cnn(data.num_classes, data.x_train.shape[1:]), data, epochs, 32, seed)
    return fit(sweeper_cnn(params, data, flip), data, epochs,
               int(params.get("batch_size", 64)), seed)


def digits_folder_case(folder: Path) -> tuple[Path, list[tuple[Path, int]]]:
    """3,200 MNIST digits as PNGs and a file with nothing but that folder and 12 epochs;
    1,000 other digits as held-out PNGs (path, label)."""
    from tests.images import write_mnist_pngs

    order = np.random.default_rng(1).permutation(5000)
    write_mnist_pngs(folder / "digits", order[:3200])
    held_out = write_mnist_pngs(folder / "held_out", order[3200:4200])
    spec = folder / "digits.yaml"
    spec.write_text(f"data: {{source: directory, path: {folder / 'digits'}}}\n"
                    "budget: {max_epochs: 12}\n")
    return spec, held_out


def held_out_accuracy(model_path: Path, held_out: list[tuple[Path, int]]) -> float:
    """A saved model on raw gray PNG files, decoded as a user would decode them."""
    import keras
    import tensorflow as tf

    model = keras.models.load_model(model_path)
    images = np.stack([tf.io.decode_png(path.read_bytes(), channels=1).numpy()
                       for path, _ in held_out])
    labels = np.array([label for _, label in held_out])
    predicted = model.predict(images.astype("float32"), verbose=0).argmax(axis=1)
    return float((predicted == labels).mean())
