"""Does a sweep's best validation score hold on unseen images? Previous defaults against today's.

The same sweep (TPE + ASHA over learning rate, batch size, dropout and dense width) runs
twice on a 32x32 colour folder of drawn shapes (tests/images.py): once with the built-in
CNN's previous defaults fixed (global-average head, batch norm before the activation,
Keras' momentum 0.99), once with today's. The data's default test split (10%) is held out
from every trial and scores each sweep's exported best model once at the end; the gap
between that and the best trial's validation score is the optimism of picking the best of
many noisy validation curves.

    .venv/bin/python benchmarks/holdout_gap.py [--trials 12] [--epochs 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from report import write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sweeper import config as spec_module  # noqa: E402
from sweeper.config import Overrides  # noqa: E402
from sweeper.driver.engine import run_sweep  # noqa: E402
from tests.images import write_colour_shapes  # noqa: E402

SPACE = """\
name: {name}
data: {{source: directory, path: {folder}}}
budget: {{trials: {trials}, max_epochs: {epochs}}}
search: {{algorithm: tpe, seed: 0}}
scheduler: {{kind: asha, grace_period: 2, reduction_factor: 3}}
early_stopping: {{patience: 3}}
resources: {{cpus_per_trial: 1, concurrency: 2}}
space:
  learning_rate: {{float: [3.0e-4, 3.0e-3], log: true}}
  batch_size: {{choice: [32, 64]}}
  dropout: {{float: [0.0, 0.5]}}
  dense_units: {{choice: [64, 128]}}
{fixed}"""
PREVIOUS = ("  head: global_avg\n  batch_norm_position: before_activation\n"
            "  batch_norm_momentum: 0.99\n")


def sweep(folder: Path, images: Path, name: str, fixed: str, trials: int,
          epochs: int) -> dict[str, object]:
    path = folder / f"{name}.yaml"
    path.write_text(SPACE.format(name=name, folder=images, trials=trials, epochs=epochs,
                                 fixed=fixed))
    started = time.monotonic()
    outcome = run_sweep(spec_module.load(path), Overrides(), folder / "runs", "local",
                        quiet=True, local_cpus=2)
    test = outcome.test
    assert test is not None
    return {"defaults": name, "trials": len(outcome.trials),
            "best validation": round(test.validation_value, 3),
            "test split": round(test.value, 3),
            "gap": round(test.validation_value - test.value, 3),
            "wall_s": round(time.monotonic() - started)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_colour_shapes(folder / "shapes", per_class=400, size=32, seed=11)
        rows = [sweep(folder, folder / "shapes", "previous", PREVIOUS, args.trials,
                      args.epochs),
                sweep(folder, folder / "shapes", "today", "", args.trials, args.epochs)]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    heading = "## Held-out score of a sweep's best model: previous defaults against today's"
    section = (
        f"{heading}\n\n"
        f"Command: `.venv/bin/python benchmarks/holdout_gap.py --trials {args.trials} "
        f"--epochs {args.epochs}`\n\n"
        "A 32x32 colour folder of drawn shapes (10 classes, 4,000 images: 2,800 train, 800 "
        f"validation, 400 test), {args.trials} trials of at most {args.epochs} epochs, TPE + "
        "ASHA over learning rate, batch size, dropout and dense width, 2 at a time on 2 "
        "CPUs. `test split`: the sweep's exported best model on the held-out test split, "
        "scored once at the end; `gap`: best validation minus test.\n\n"
        + table.to_markdown(index=False) + "\n")
    write_section(ROOT / "BENCHMARKS.md", heading, section)


if __name__ == "__main__":
    main()
