"""keras.applications backbones built for real: their parameters match the count made
without TensorFlow, a weights file is loaded and frozen as asked, a built model's FLOPs
match the CNN's blueprint, and one small backbone trains in a real sweep."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sweeper.models.backbones.kind import BackboneKind
from sweeper.models.cnn.blueprint import plan
from sweeper.models.inputs import InputInfo
from sweeper.store.tables import read_table
from tests.conftest import sweeper, write_space
from tests.images import write_colour_shapes

keras = pytest.importorskip("keras")

from sweeper.models.cnn.build import build_cnn  # noqa: E402
from sweeper.models.cost import measured_cost  # noqa: E402

pytestmark = pytest.mark.integration


def info(channels: int = 3, classes: int = 10, size: int = 32) -> InputInfo:
    return InputInfo((size, size), channels, classes, np.full(channels, 120.0, np.float32),
                     np.full(channels, 3600.0, np.float32), horizontal_flip=True)


def nested(model: keras.Model) -> keras.Model:
    [backbone] = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return backbone


@pytest.mark.parametrize("name, channels, params", [
    ("resnet50v2", 3, {"dense_units": 64, "augmentation": 0.3}),
    ("efficientnet_b0", 1, {}),
    ("inception_v3", 3, {"dropout": 0.0}),
])
def test_large_backbones_build_with_the_counted_parameters(
        name: str, channels: int, params: dict[str, object]) -> None:
    kind = BackboneKind(name)
    data = info(channels)
    model = kind.build(params, data)
    assert model.count_params() == kind.describe(params, data).param_count
    assert model.output_shape == (None, 10)
    side = kind.network.min_size
    assert nested(model).input_shape == (None, side, side, channels)  # resized up to it
    cost = measured_cost(model)
    assert cost.param_count == model.count_params() and cost.flops and cost.flops > 1e6
    keras.backend.clear_session()


def test_efficientnet_gets_sweeper_normalization_through_its_fixed_rescaling() -> None:
    """EfficientNet divides by 255 in a layer Keras keeps: the input is normalized 255x
    wider, so the network's first convolution sees (x - mean) / std exactly."""
    model = BackboneKind("efficientnet_b0").build({}, info())
    normalize = keras.Model(model.input, model.get_layer("normalize").output)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(normalize.predict(x, verbose=0) / 255.0, (x - 120.0) / 60.0,
                               rtol=1e-4, atol=1e-4)
    keras.backend.clear_session()


def test_efficientnet_with_keras_imagenet_file_sees_what_keras_feeds_it(tmp_path: Path) -> None:
    """Keras's EfficientNet files hold the ImageNet deviation as their Normalization's
    variance and Keras divides by it once more only for weights="imagenet": loaded from a
    file, sweeper puts that division in front, so the stem sees (x / 255 - mean) / std."""
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    source = keras.applications.EfficientNetB0(include_top=False, weights=None,
                                               input_shape=(32, 32, 3), pooling="avg")
    [norm] = [layer for layer in source.layers if isinstance(layer, keras.layers.Normalization)]
    count = norm.get_weights()[2:]
    norm.set_weights([mean.astype("float32"), std.astype("float32"), *count])  # as Keras's
    # _notop.h5 holds them: the deviation as the variance
    path = tmp_path / "efficientnetb0_notop.weights.h5"
    source.save_weights(path)
    model = BackboneKind("efficientnet_b0", weights=str(path)).build({}, info())
    shifted = keras.Model(model.input, model.get_layer("imagenet_stddev").output)
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    stem = (shifted.predict(x, verbose=0) / 255.0 - mean) / np.sqrt(std)  # the net's own layers
    np.testing.assert_allclose(stem, (x / 255.0 - mean) / std, rtol=1e-4, atol=1e-4)
    keras.backend.clear_session()


@pytest.mark.parametrize("params", [
    {"depth": 2, "residual": True, "filters": 8, "stride": 2, "dense_units": 16},
    {"depth": 2, "padding": "valid", "kernel_size": 5, "head": "global_avg", "dense_units": 0},
    {"depth": 2, "convs_per_block": 2, "residual": True, "padding": "valid", "head": "auto"},
])
def test_measured_cost_of_the_cnn_is_its_blueprint(params: dict[str, object]) -> None:
    data = info(1, 7, 28)
    bp = plan(params, data.input_shape, 7)
    model = build_cnn(params, data)
    assert measured_cost(model).flops == bp.flops
    assert measured_cost(model).param_count == bp.param_count
    keras.backend.clear_session()


def test_measured_cost_counts_every_convolution_kind_and_nested_models() -> None:
    layers = keras.layers
    inputs = keras.Input((16, 16, 4))
    x = layers.Conv2D(8, 3, padding="same", groups=2)(inputs)  # 16x16x8
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(x)  # 8x8x16
    x = layers.SeparableConv2D(6, 3)(x)  # 6x6x6
    y = layers.Dense(2)(layers.Flatten()(layers.Conv2DTranspose(3, 2, strides=2)(x)))
    shared = keras.Sequential([keras.Input((6, 6, 6)), layers.Conv2D(6, 1)])
    z = layers.Flatten()(shared(layers.Conv2D(6, 1)(shared(x))))
    model = keras.Model(inputs, [y, layers.Dense(1)(z)])
    macs = (3 * 3 * 2 * 8 * 16 * 16  # grouped: 2 input channels per group
            + 3 * 3 * 8 * 2 * 8 * 8  # depthwise, multiplier 2, at 8x8
            + (3 * 3 * 16 + 16 * 6) * 6 * 6  # separable: depthwise and pointwise at 6x6
            + 2 * 2 * 3 * 6 * 6 * 6  # transpose: each of the 6x6 inputs scatters a kernel
            + 12 * 12 * 3 * 2  # dense on the flattened 12x12x3 map
            + 2 * 6 * 6 * 6 * 6  # the nested block, called twice
            + 6 * 6 * 6 * 6  # the 1x1 convolution between its calls
            + 6 * 6 * 6)  # the last dense
    cost = measured_cost(model)
    assert cost.flops == 2 * macs
    assert cost.param_count == model.count_params()
    keras.backend.clear_session()


def test_a_weights_file_is_loaded_and_only_the_last_layers_train(tmp_path: Path) -> None:
    source = keras.applications.MobileNetV2(alpha=0.35, include_top=False, weights=None,
                                            input_shape=(32, 32, 3), pooling="avg")
    rng = np.random.default_rng(0)
    source.set_weights([rng.normal(0, 0.1, w.shape).astype("float32")
                        if "variance" not in v.path else rng.uniform(0.5, 2, w.shape)
                        .astype("float32") for w, v in zip(source.get_weights(),
                                                              source.weights, strict=True)])
    path = tmp_path / "x.weights.h5"
    source.save_weights(path)
    saved = source.get_weights()
    kind = BackboneKind("mobilenet_v2", weights=str(path))
    data = info(channels=1)  # gray: repeated to the 3 channels the weights want
    model = kind.build({"alpha": 0.35, "trainable_layers": 3}, data)
    backbone = nested(model)
    for got, want in zip(backbone.get_weights(), saved, strict=True):
        np.testing.assert_array_equal(got, want)
    weighted = [layer for layer in backbone.layers if layer.weights]
    assert [layer.trainable for layer in weighted] == [False] * (len(weighted) - 3) + [True] * 3
    assert model.count_params() == kind.describe({"alpha": 0.35}, data).param_count
    # the input is what the weights were trained on: keras' "tf" mode, x / 127.5 - 1
    scaled = keras.Model(model.input, model.get_layer("imagenet_input").output)
    black_white = np.stack([np.zeros((32, 32, 1)), np.full((32, 32, 1), 255.0)])
    out = scaled.predict(black_white.astype("float32"), verbose=0)
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(out[0], -1.0, atol=1e-6)
    np.testing.assert_allclose(out[1], 1.0, atol=1e-6)
    frozen = [w.copy() for layer in weighted[:-3] for w in layer.get_weights()]
    before = [w.copy() for layer in weighted[-3:] for w in layer.get_weights()]
    images = rng.uniform(0, 255, (16, 32, 32, 1)).astype("float32")
    model.fit(images, rng.integers(0, 10, 16), batch_size=8, epochs=1, verbose=0)
    # frozen layers, batch-norm moving statistics too (inference mode), stay as loaded
    after = [w for layer in weighted[:-3] for w in layer.get_weights()]
    for got, want in zip(after, frozen, strict=True):
        np.testing.assert_array_equal(got, want)
    trained = [w for layer in weighted[-3:] for w in layer.get_weights()]
    assert any(not np.array_equal(a, b) for a, b in zip(trained, before, strict=True))
    keras.backend.clear_session()


@pytest.mark.slow
def test_a_small_backbone_sweeps_for_real(tmp_path: Path, ray_head: str) -> None:
    write_colour_shapes(tmp_path / "shapes", per_class=12, size=32, seed=5)
    path = write_space(tmp_path, "mobile", """\
        data: {source: directory, path: shapes, image_size: [32, 32], channels: 3,
               validation_split: 0.25}
        model: {kind: mobilenet_v2}
        budget: {trials: 2, max_epochs: 1}
        search: {algorithm: random, seed: 0}
        scheduler: {kind: fifo}
        early_stopping: {patience: null}
        resources: {cpus_per_trial: 1, concurrency: 2}
        diagnosis: {enabled: false}   # its probe traces a second graph: ~20 s more a trial
        space:
          alpha: 0.35
          learning_rate: {float: [1.0e-3, 3.0e-3], log: true}
          batch_size: 30
        """)
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    trials = read_table(runs / "mobile" / "trials.csv")
    assert len(trials) == 2
    assert set(trials["status"]) == {"completed"}
    assert all(math.isfinite(float(s)) for s in trials["score"])
    counted = BackboneKind("mobilenet_v2").describe({"alpha": 0.35}, info()).param_count
    assert set(trials["param_count"]) == {counted}
