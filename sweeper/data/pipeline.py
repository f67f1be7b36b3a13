"""The one input pipeline every training loop uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["pipeline"]


def pipeline(x: np.ndarray, y: np.ndarray, batch_size: int, *, training: bool,
             seed: int) -> tf.data.Dataset:
    """The one input pipeline: cache, shuffle (training), batch, parallel cast, prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return (ds.batch(batch_size)
            .map(lambda a, b: (tf.cast(a, tf.float32), b), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
