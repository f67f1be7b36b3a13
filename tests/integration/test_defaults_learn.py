"""The built-in CNN's defaults learn from the first epoch: on MNIST-5k as well as the seed
article's CNN, with batch norm on never at chance, and on a colour folder as well as a plain
flatten network without batch norm (where the previous defaults stayed near chance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sweeper import config as spec_module
from sweeper.data.dataset import Dataset, load_dataset
from sweeper.models.cnn.catalog import CNN_HYPERPARAMETERS
from tests.images import write_colour_shapes
from tests.reference import PREVIOUS_DEFAULTS, SEED_CNN, SWEEPER_CNN, train

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SEEDS = (0, 1)
COLOUR = {"learning_rate": 1.0e-3, "depth": 2, "filters": 32, "dense_units": 64}


def load(body: str, folder: Path) -> Dataset:
    return load_dataset(spec_module.loads(body, file=str(folder / "space.yaml")))


@pytest.fixture(scope="module")
def mnist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """Validation accuracy of epochs 1-3, mean of two seeds, on one split of MNIST-5k."""
    data = load("data: {source: mnist5k}\n", tmp_path_factory.mktemp("mnist"))
    curves: dict[str, np.ndarray] = {}
    for kind in (SEED_CNN, SWEEPER_CNN):
        runs = [train(kind, {}, data, 3, seed) for seed in SEEDS]
        curves[kind] = np.mean([r["curve"] for r in runs], axis=0)
    return curves


def test_defaults_match_the_seed_cnn_after_three_epochs_on_mnist5k(
        mnist: dict[str, np.ndarray]) -> None:
    assert mnist[SWEEPER_CNN][2] >= mnist[SEED_CNN][2] - 0.01, mnist


def test_batch_norm_on_learns_in_the_first_epoch(mnist: dict[str, np.ndarray]) -> None:
    assert CNN_HYPERPARAMETERS["batch_norm"].default is True
    assert mnist[SWEEPER_CNN][0] >= 0.8, mnist


def test_defaults_learn_a_colour_folder_as_well_as_flatten_without_batch_norm(
        tmp_path: Path) -> None:
    write_colour_shapes(tmp_path / "shapes", per_class=300, size=32, seed=3)
    data = load(f"data: {{source: directory, path: {tmp_path / 'shapes'}}}\n", tmp_path)
    assert data.image_size == (32, 32) and data.channels == 3 and data.num_classes == 10

    def best(params: dict[str, object]) -> float:
        return float(train(SWEEPER_CNN, {**COLOUR, **params}, data, 8, 0, flip=True)["best_val"])

    previous = best(PREVIOUS_DEFAULTS)
    flatten = best({"head": "flatten", "batch_norm": False})
    defaults = best({})
    assert previous <= 0.3, "this folder no longer shows what the previous defaults missed"
    assert defaults >= flatten - 0.03, (defaults, flatten)
