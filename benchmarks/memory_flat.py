"""Resident memory of one reused worker over 100 sequential trials (target: < 200 MB growth).

Each trial reports its worker's resident memory (``rss_mb``) after every epoch; with actor
reuse all 100 trials run in one process, so growth from the warmed-up trials to the last
ones is what leaks (Keras sessions, graphs, datasets) would show.

    .venv/bin/python benchmarks/memory_flat.py [--trials 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from report import write_section

from sweeper import config as spec_module
from sweeper.config import Overrides
from sweeper.driver.engine import run_sweep
from sweeper.store.tables import read_table

SPACE = """\
name: memory
data: {{source: digits}}
budget: {{trials: {trials}, max_epochs: 1}}
search: {{algorithm: random, seed: 0}}
scheduler: {{kind: fifo}}
resources: {{cpus_per_trial: 1, concurrency: 1}}
space:
  learning_rate: {{float: [1.0e-3, 1.0e-2], log: true}}
  filters: {{choice: [4, 8, 16]}}
  depth: {{int: [1, 2]}}
  dense_units: {{choice: [0, 32]}}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--output", default=str(Path(__file__).parent.parent / "BENCHMARKS.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "memory.yaml"
        path.write_text(SPACE.format(trials=args.trials))
        started = time.monotonic()
        outcome = run_sweep(spec_module.load(path), Overrides(), Path(tmp) / "runs", None,
                            quiet=True, local_cpus=2)
        wall = time.monotonic() - started
        trials = read_table(outcome.folder / "trials.csv")
        history = read_table(outcome.folder / "history.csv").sort_values("number")
    rss = history["rss_mb"].to_numpy()
    warm = float(rss[5:15].mean())
    last = float(rss[-10:].mean())
    section = (
        "## Memory: 100 sequential trials in one reused worker\n\n"
        f"Command: `.venv/bin/python benchmarks/memory_flat.py --trials {args.trials}`\n\n"
        f"digits, {args.trials} trials of 1 epoch, one at a time, architectures varying "
        "(filters 4-16, depth 1-2, dense 0/32); resident memory of the worker after each "
        "trial's epoch.\n\n"
        "| worker processes | first trial | trials 6-15 (warm) | last 10 trials | growth | "
        "target | wall |\n|---|---|---|---|---|---|---|\n"
        f"| {trials['pid'].nunique()} | {rss[0]:.0f} MB | {warm:.0f} MB | {last:.0f} MB | "
        f"{last - warm:+.0f} MB | < 200 MB | {wall:.0f} s |\n")
    print(section)
    output = Path(args.output)
    write_section(output, "## Memory: 100 sequential trials", section)


if __name__ == "__main__":
    main()
