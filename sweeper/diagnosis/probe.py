"""The probe: every few steps, one forward and backward pass on one fixed training batch,
which reads gradients, ReLU activations and the first layer's input.

It runs on the training thread between two steps (``on_train_batch_begin``), inside a
Keras ``StatelessScope``: the batch-norm statistics, dropout's and augmentation's random
state and the loss trackers it touches stay as training left them, so a probed run trains
exactly as an unprobed one. Layers are probed at the model's top level: a nested model is
one layer to it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sweeper.diagnosis.readings import ProbeReading

if TYPE_CHECKING:
    import keras

__all__ = ["Probe", "is_relu", "kernel_layers"]

PROBE_EXAMPLES = 64  # the fixed batch: the first examples of the training split


def _activation_name(fn: Any) -> str:
    return str(getattr(fn, "__name__", "") or "")


def is_relu(layer: keras.layers.Layer) -> bool:
    """A plain ReLU: an Activation or ReLU layer, or a layer with activation='relu'."""
    import keras

    if isinstance(layer, keras.layers.ReLU):
        return not float(getattr(layer, "negative_slope", 0.0) or 0.0)
    return _activation_name(getattr(layer, "activation", None)) == "relu"


def kernel_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Top-level layers with a kernel (convolutions, dense), in order."""
    return [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]


class Probe:
    """Measures the model on one fixed batch; built once per trial."""

    def __init__(self, model: keras.Model, x: np.ndarray, y: np.ndarray) -> None:
        """``x``, ``y``: the fixed batch (at most a training batch: the probe must fit in
        the memory a training step fits in)."""
        import tensorflow as tf

        self.model = model
        self.x = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
        self.y = tf.convert_to_tensor(np.asarray(y))
        self.relu_names: list[str] = []
        self.taps: keras.Model | None = None  # outputs, ReLU outputs, first kernel's input
        self.has_input = False
        self._built = False
        policy = getattr(model, "dtype_policy", None)
        self._half_precision = getattr(policy, "compute_dtype", "float32") == "float16"

    @property
    def sees_layers(self) -> bool:
        """Whether activations and the first layer's input can be probed."""
        return self.taps is not None

    def _build_taps(self) -> None:
        """A functional view of the model's own graph; none for a subclassed model."""
        import keras

        self._built = True
        model = self.model
        try:
            inputs, outputs = model.inputs, model.outputs
        except (AttributeError, ValueError):
            return
        if not inputs or not outputs:
            return
        relus, taps = [], []
        for layer in model.layers:
            if is_relu(layer) and not isinstance(layer, keras.Model):
                try:
                    taps.append(layer.output)
                    relus.append(layer.name)
                except (AttributeError, ValueError):  # a shared layer: several outputs
                    continue
        first = next(iter(kernel_layers(model)), None)
        extra = []
        if first is not None:
            try:
                extra = [first.input]
            except (AttributeError, ValueError):
                extra = []
        try:
            self.taps = keras.Model(inputs, [*outputs, *taps, *extra])
        except Exception:  # a graph the functional API cannot cut: gradients only
            self.taps = None
            return
        self.relu_names, self.has_input = relus, bool(extra)
        self._outputs = len(outputs)

    def measure(self, step: int) -> ProbeReading:
        if not self._built:
            self._build_taps()
            self._pass = self._compiled_pass()
        loss, squares, active, mean, std = (np.asarray(v) for v in self._pass(self.x, self.y))
        return self._reading(step, float(loss), squares, active, float(mean), float(std))

    def _compiled_pass(self) -> Any:
        """One tf.function for the forward and backward pass and every number read from
        them: traced once per trial, then about as fast as a training step, with one copy
        to the host."""
        import keras
        import tensorflow as tf

        model, taps, relus = self.model, self.taps, len(self.relu_names)
        outputs, has_input = getattr(self, "_outputs", 1), self.has_input

        def forward(x: Any) -> tuple[Any, list[Any], Any]:
            if taps is None:
                return model(x, training=True), [], tf.zeros((1,))
            values = taps(x, training=True)
            values = list(values) if isinstance(values, list | tuple) else [values]
            predicted = values[0] if outputs == 1 else values[:outputs]
            first_input = values[-1] if has_input else tf.zeros((1,))
            return predicted, values[outputs:outputs + relus], first_input

        @tf.function(reduce_retracing=True)
        def probe_pass(x: Any, y: Any) -> Any:
            trainable = model.trainable_variables
            with tf.GradientTape() as tape:
                # the trainable variables mapped to their own values: weight regularizers
                # read variables through the scope, and find nothing without a mapping
                mapping = [(v, v.value) for v in trainable]
                with keras.StatelessScope(state_mapping=mapping):
                    predicted, activations, first_input = forward(x)
                    # what Keras's train step calls (a user override may lack ``training``)
                    loss = model._compute_loss(x=x, y=y, y_pred=predicted, sample_weight=None,
                                               training=True)
            grads = tape.gradient(loss, trainable)
            squares = tf.stack([tf.reduce_sum(tf.square(tf.cast(g, tf.float32)))
                                if g is not None else tf.constant(-1.0) for g in grads]
                               or [tf.constant(0.0)])
            active = [tf.reduce_sum(tf.cast(tf.reduce_any(
                tf.reshape(a, (-1, a.shape[-1])) > 0, axis=0), tf.int32)) for a in activations]
            first_input = tf.cast(first_input, tf.float32)
            return (loss, squares, tf.stack(active) if active else tf.zeros((0,), tf.int32),
                    tf.reduce_mean(first_input), tf.math.reduce_std(first_input))

        return probe_pass

    def _reading(self, step: int, loss: float, squares: np.ndarray, active: np.ndarray,
                 mean: float, std: float) -> ProbeReading:
        by_layer: dict[str, float] = {}
        kernels: list[float] = []
        for variable, square in zip(self.model.trainable_variables, squares.tolist(),
                                    strict=False):
            if square < 0:  # no gradient reaches it
                continue
            layer = str(variable.path).rsplit("/", 1)[0]
            by_layer[layer] = by_layer.get(layer, 0.0) + square
            if variable.name == "kernel":
                kernels.append(math.sqrt(square / max(int(np.prod(variable.shape)), 1)))
        largest = max(by_layer.items(), key=lambda item: item[1], default=("", 0.0))
        if self._half_precision:  # float16 gradients of an unscaled loss underflow: no ratio
            kernels = []
        units = self._units()
        dead = {name: (units[i] - int(active[i]), units[i])
                for i, name in enumerate(self.relu_names)}
        return ProbeReading(
            step=step, loss=loss, grad_norm=math.sqrt(sum(by_layer.values())),
            first_kernel_rms=kernels[0] if len(kernels) > 1 else None,
            last_kernel_rms=kernels[-1] if len(kernels) > 1 else None,
            largest_layer=largest[0], largest_layer_norm=math.sqrt(largest[1]),
            relu_units=sum(units) if self.sees_layers else None,
            dead_units=sum(d for d, _ in dead.values()), layer_dead=dead,
            input_mean=mean if self.has_input else None,
            input_std=std if self.has_input else None)

    def _units(self) -> list[int]:
        """Units (channels) of each probed ReLU layer."""
        assert self.taps is not None or not self.relu_names
        layers = {layer.name: layer for layer in self.model.layers}
        return [int(layers[name].output.shape[-1]) for name in self.relu_names]
