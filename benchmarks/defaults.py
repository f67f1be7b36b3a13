"""Do the built-in CNN's defaults learn? Side by side with the seed article's Example 2 CNN.

Every model trains on the same split of the same data through sweeper's own input pipeline;
sweeper's models are built by its builder from a parameter dict, exactly as a trial or
`sweeper train` builds them. The data's default test split (10% from 2,000 images on) is
held out from training and from the choice of the best epoch, and scores the best epoch's
weights once: does the validation score hold on unseen images?

- MNIST-5k, 3 epochs, seeds 0-2: the seed CNN (Conv32-Pool-Conv64-Pool-Flatten-Dense128,
  Adam, batch 32), sweeper's previous defaults (global-average head, batch norm before the
  activation with Keras' momentum 0.99), and today's defaults.
- Colour folders of drawn shapes (tests/images.py), 32x32 and 64x64 RGB, 10 classes, 8
  epochs, Adam 0.001, depth 2, filters 32, dense 64: the previous defaults, a flatten head
  without batch norm, today's defaults.
- 3,200 MNIST digits as PNG files, `sweeper train` with nothing but the folder and 12
  epochs; the saved model on 1,000 other raw PNG files.

    .venv/bin/python benchmarks/defaults.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from report import write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sweeper import config as spec_module  # noqa: E402
from sweeper.data.dataset import Dataset, load_dataset  # noqa: E402
from tests.images import write_colour_shapes  # noqa: E402
from tests.reference import (  # noqa: E402
    PREVIOUS_DEFAULTS,
    SEED_CNN,
    SWEEPER_CNN,
    digits_folder_case,
    held_out_accuracy,
    train,
)

COLOUR_PARAMS = {"learning_rate": 1.0e-3, "depth": 2, "filters": 32, "dense_units": 64}


def load(body: str, folder: Path) -> Dataset:
    return load_dataset(spec_module.loads(body, file=str(folder / "bench.yaml")))


def mnist_table(folder: Path, seeds: int) -> pd.DataFrame:
    data = load("data: {source: mnist5k}\n", folder)
    rows = []
    for label, kind, params in [
            ("seed article's Example 2 CNN (plain Keras, batch 32)", SEED_CNN, {}),
            ("sweeper, previous defaults", SWEEPER_CNN, PREVIOUS_DEFAULTS),
            ("sweeper, defaults", SWEEPER_CNN, {}),
            ("sweeper, defaults with batch_norm: false", SWEEPER_CNN, {"batch_norm": False}),
            ("sweeper, defaults with head: global_avg", SWEEPER_CNN, {"head": "global_avg"}),
            ("sweeper, defaults with batch_norm_momentum: 0.99", SWEEPER_CNN,
             {"batch_norm_momentum": 0.99})]:
        runs = [train(kind, params, data, 3, seed) for seed in range(seeds)]
        curves = np.array([r["curve"] for r in runs])
        rows.append({"model": label,
                     **{f"epoch {i + 1}": round(float(curves[:, i].mean()), 3)
                        for i in range(3)},
                     "test (best epoch)": round(float(np.mean([r["test"] for r in runs])), 3),
                     "seconds": round(float(np.mean([r["seconds"] for r in runs])), 1)})
    return pd.DataFrame(rows)


def colour_table(folder: Path, size: int, per_class: int) -> pd.DataFrame:
    images = folder / f"colour{size}"
    write_colour_shapes(images, per_class, size=size, seed=size)
    data = load(f"data: {{source: directory, path: {images}}}\n", folder)
    rows = []
    for label, params in [
            ("previous defaults", {**COLOUR_PARAMS, **PREVIOUS_DEFAULTS}),
            ("head: flatten, batch_norm: false", {**COLOUR_PARAMS, "head": "flatten",
                                                  "batch_norm": False}),
            ("defaults", COLOUR_PARAMS),
            ("defaults with head: flatten (the whole map)", {**COLOUR_PARAMS, "head": "flatten"}),
            ("defaults with batch_norm_position: before_activation",
             {**COLOUR_PARAMS, "batch_norm_position": "before_activation"}),
            ("defaults with batch_norm_momentum: 0.99",
             {**COLOUR_PARAMS, "batch_norm_momentum": 0.99})]:
        run = train(SWEEPER_CNN, params, data, 8, 0, flip=True)
        rows.append({"model": label, "epochs 1-8": " ".join(f"{v:.2f}" for v in run["curve"]),
                     "best validation": round(run["best_val"], 3),
                     "test (best epoch)": round(run["test"], 3),
                     "seconds": round(run["seconds"], 1)})
    return pd.DataFrame(rows)


def png_digits(folder: Path) -> dict[str, Any]:
    """`sweeper train` on a folder with every default, then raw held-out PNG files."""
    from sweeper.driver.train import train as train_fixed

    spec, held_out = digits_folder_case(folder)
    result = train_fixed(spec_module.load(spec), epochs=None, output=folder / "digits.keras",
                         seed=0, verbose=False)
    return {"validation": result.objective, "test": result.test_metrics["test_accuracy"],
            "held_out": held_out_accuracy(folder / "digits.keras", held_out),
            "best_epoch": result.best_epoch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mnist = mnist_table(folder, args.seeds)
        print(mnist.to_string(index=False), flush=True)
        colour32 = colour_table(folder, 32, 400)
        print(colour32.to_string(index=False), flush=True)
        colour64 = colour_table(folder, 64, 300)
        print(colour64.to_string(index=False), flush=True)
        digits = png_digits(folder)
        print(digits, flush=True)
    write_report(mnist, colour32, colour64, digits, args.seeds)


def write_report(mnist: pd.DataFrame, colour32: pd.DataFrame, colour64: pd.DataFrame,
                 digits: dict[str, Any], seeds: int) -> None:
    heading = "## Defaults that learn: the built-in CNN against the seed article's CNN"
    section = heading + f"""

Command: `.venv/bin/python benchmarks/defaults.py --seeds {seeds}`

Every model trains on the same split through sweeper's input pipeline; the default test
split (10% from 2,000 images on) is held out from training and from the choice of the best
epoch, and scores the best epoch's weights once. "Previous defaults": `head: global_avg`,
batch norm before the activation with Keras' momentum 0.99.

MNIST-5k (3,500 train / 1,000 validation / 500 test), validation accuracy after each of 3
epochs, mean of seeds 0-{seeds - 1}:

{mnist.to_markdown(index=False)}

A 10-class colour folder of drawn shapes (`tests/images.py`), 32x32 RGB, 4,000 images
(2,800 / 800 / 400), 8 epochs, Adam 0.001, depth 2, filters 32, dense 64, seed 0:

{colour32.to_markdown(index=False)}

The same kind of folder at another size: 64x64 RGB, 3,000 images (2,100 / 600 / 300):

{colour64.to_markdown(index=False)}

3,200 MNIST digits as PNG files, `sweeper train` with every default and `max_epochs: 12`:
best validation accuracy {digits['validation']:.3f} (epoch {digits['best_epoch']}), test
split {digits['test']:.3f}, and the saved model on 1,000 other raw PNG files:
**{digits['held_out']:.3f}**.
"""
    write_section(ROOT / "BENCHMARKS.md", heading, section)


if __name__ == "__main__":
    main()
