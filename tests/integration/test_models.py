"""The Keras CNN matches its blueprint, and preprocessing lives inside the model."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from sweeper.models.cnn.blueprint import plan
from sweeper.models.cnn.catalog import CNN_HYPERPARAMETERS

keras = pytest.importorskip("keras")

from sweeper.models.cnn.build import augmentation_layers, build_cnn  # noqa: E402
from sweeper.models.compile import make_optimizer  # noqa: E402
from sweeper.models.inputs import InputInfo  # noqa: E402

pytestmark = pytest.mark.integration


def info(shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10) -> InputInfo:
    channels = shape[2]
    return InputInfo(shape[:2], channels, classes, np.full(channels, 100.0, np.float32),
                     np.full(channels, 900.0, np.float32), horizontal_flip=True)


def random_params(rng: random.Random) -> dict[str, object]:
    """A random point of the whole documented space (choices and ranges of the catalog)."""
    params: dict[str, object] = {}
    for name, h in CNN_HYPERPARAMETERS.items():
        if h.choices is not None:
            params[name] = rng.choice(h.choices)
        elif h.type is bool:
            params[name] = rng.choice([True, False])
    params.update(
        depth=rng.randint(1, 4), filters=rng.choice([4, 8, 12]), kernel_size=rng.choice([1, 3, 5]),
        stride=rng.choice([1, 2]), convs_per_block=rng.randint(1, 3),
        filters_growth=rng.choice([1.0, 1.5, 2.0]), pool_size=rng.choice([2, 3]),
        dense_units=rng.choice([0, 16]), dropout=rng.choice([0.0, 0.3]),
        augmentation=rng.choice([0.0, 0.5]), learning_rate=1e-3, momentum=0.9,
    )
    return params


def test_parameter_count_and_shapes_match_keras() -> None:
    rng = random.Random(0)
    checked = 0
    while checked < 30:
        params = random_params(rng)
        shape = rng.choice([(28, 28, 1), (32, 24, 3)])
        bp = plan(params, shape, 7)
        if not bp.feasible:
            continue
        model = build_cnn(params, info(shape, 7))
        assert bp.param_count == model.count_params(), params
        for block in bp.blocks:
            for conv in block.convs:
                assert model.get_layer(conv.name).output.shape[1:3] == conv.out_hw, params
        checked += 1
        keras.backend.clear_session()


def test_infeasible_architecture_is_refused_with_the_layer_named() -> None:
    with pytest.raises(ValueError, match="block2_conv1"):
        build_cnn({"depth": 3, "kernel_size": 5, "padding": "valid", "pooling": "none"},
                  info((8, 8, 1)))


@pytest.mark.parametrize("name, cls", [("adam", "Adam"), ("adamw", "AdamW"), ("sgd", "SGD"),
                                       ("rmsprop", "RMSprop")])
def test_optimizers_get_their_hyperparameters(name: str, cls: str) -> None:
    opt = make_optimizer({"optimizer": name, "learning_rate": 0.02, "momentum": 0.8,
                          "nesterov": True, "weight_decay": 0.001})
    assert type(opt).__name__ == cls
    assert float(opt.learning_rate) == pytest.approx(0.02)
    assert opt.weight_decay == pytest.approx(0.001)
    if name in ("sgd", "rmsprop"):
        assert opt.momentum == pytest.approx(0.8)
    if name == "sgd":
        assert opt.nesterov is True


def test_augmentation_scales_with_strength_and_is_off_at_zero() -> None:
    assert augmentation_layers(0.0, True) == []
    weak = {layer.name: layer for layer in augmentation_layers(0.2, False)}
    strong = {layer.name: layer for layer in augmentation_layers(1.0, True)}
    assert "aug_flip" not in weak and "aug_flip" in strong
    assert strong["aug_rotation"].factor[1] == pytest.approx(5 * weak["aug_rotation"].factor[1])
    assert set(strong) >= {"aug_rotation", "aug_shift", "aug_zoom",
                           "aug_brightness", "aug_contrast"}


def test_saved_model_takes_raw_images_of_any_size(tmp_path: Path) -> None:
    params = {"depth": 2, "filters": 8, "augmentation": 0.5, "dense_units": 0}
    model = build_cnn(params, info((28, 28, 1), 10))
    x = np.random.default_rng(0).integers(0, 256, (16, 28, 28, 1)).astype("float32")
    y = np.arange(16) % 10
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    big = np.random.default_rng(1).integers(0, 256, (2, 50, 40, 1)).astype("float32")
    first = loaded.predict(big, verbose=0)
    assert first.shape == (2, 10)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, rtol=1e-5)
    # augmentation is inactive at inference: the same input gives the same output
    np.testing.assert_allclose(loaded.predict(big, verbose=0), first, rtol=1e-5)


def test_auto_head_pools_a_large_map_to_at_most_8x8_before_flattening() -> None:
    for shape, pool, features in [((64, 64, 3), (2, 2), 8 * 8 * 64),
                                  ((28, 28, 1), None, 7 * 7 * 64),
                                  ((100, 60, 1), (4, 2), 6 * 7 * 64)]:
        bp = plan({}, shape, 10)  # every default: two blocks, 32 and 64 filters, head auto
        assert bp.head_pool == pool and bp.head_features == features, shape
        model = build_cnn({}, info(shape, 10))
        assert bp.param_count == model.count_params()
        assert model.get_layer("flatten").output.shape[-1] == features
        keras.backend.clear_session()
