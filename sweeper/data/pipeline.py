"""The one input pipeline every training loop uses, and the labels it feeds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["encode_labels", "pipeline"]


def encode_labels(y: np.ndarray, one_hot: int | None) -> np.ndarray:
    """Class indices as they are (``one_hot`` None), else one-hot rows of ``one_hot``
    columns (float32, as ``keras.utils.to_categorical`` makes them)."""
    if one_hot is None:
        return y
    return np.eye(one_hot, dtype=np.float32)[np.asarray(y, dtype=np.int64)]


def pipeline(x: np.ndarray, y: np.ndarray, batch_size: int, *, training: bool,
             seed: int, one_hot: int | None = None) -> tf.data.Dataset:
    """The one input pipeline: cache, shuffle (training), batch, parallel cast, prefetch.

    ``one_hot``: the number of classes when the model's loss wants one-hot labels
    (categorical cross-entropy), else None: class indices."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    depth = one_hot

    def cast(a: tf.Tensor, b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.cast(a, tf.float32), b if depth is None else tf.one_hot(b, depth)

    return ds.batch(batch_size).map(cast, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)
