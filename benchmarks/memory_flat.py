"""Resident memory of reused workers over 100 sequential trials (target: < 200 MB growth).

Each trial reports its worker's resident memory (``rss_mb``) after every epoch. With actor
reuse and no bound (``resources.worker_memory_growth_mb: null``) all 100 trials run in one
process, and TensorFlow's few MB per model add up; with the default bound a worker that grew
past it is replaced once its trial ends. Growth: the highest memory any worker reached
minus the warmed-up level of the first (trials 6-15).

    .venv/bin/python benchmarks/memory_flat.py [--trials 100] [--bounds 150 null]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
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
resources: {{cpus_per_trial: 1, concurrency: 1, worker_memory_growth_mb: {bound}}}
space:
  learning_rate: {{float: [1.0e-3, 1.0e-2], log: true}}
  filters: {{choice: [4, 8, 16]}}
  depth: {{int: [1, 2]}}
  dense_units: {{choice: [0, 32]}}
"""


def measure(trials: int, bound: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "memory.yaml"
        path.write_text(SPACE.format(trials=trials, bound=bound))
        started = time.monotonic()
        outcome = run_sweep(spec_module.load(path), Overrides(), Path(tmp) / "runs", None,
                            quiet=True, local_cpus=2)
        wall = time.monotonic() - started
        table = read_table(outcome.folder / "trials.csv")
        history = read_table(outcome.folder / "history.csv").sort_values("number")
    rss = history["rss_mb"].to_numpy()
    warm = float(rss[5:15].mean())
    return {"bound": f"{bound} MB" if bound != "null" else "none (null)",
            "trials completed": int((table["status"] == "completed").sum()),
            "distinct numbers": int(table["number"].nunique()),
            "workers": int(table["pid"].nunique()), "first trial": f"{rss[0]:.0f} MB",
            "trials 6-15 (warm)": f"{warm:.0f} MB",
            "last 10 trials": f"{float(rss[-10:].mean()):.0f} MB",
            "growth (peak - warm)": f"{float(rss.max()) - warm:+.0f} MB",
            "wall": f"{wall:.0f} s"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--bounds", nargs="+", default=["150", "null"])
    parser.add_argument("--output", default=str(Path(__file__).parent.parent / "BENCHMARKS.md"))
    args = parser.parse_args()
    rows = [measure(args.trials, bound) for bound in args.bounds]
    section = (
        "## Memory: 100 sequential trials in reused workers\n\n"
        f"Command: `.venv/bin/python benchmarks/memory_flat.py --trials {args.trials} "
        f"--bounds {' '.join(args.bounds)}`\n\n"
        f"digits, {args.trials} trials of 1 epoch, one at a time, architectures varying "
        "(filters 4-16, depth 1-2, dense 0/32); resident memory of the worker after each "
        "trial's epoch; `bound`: `resources.worker_memory_growth_mb` (150 is the default). "
        "Target: growth < 200 MB, no trial lost or run twice.\n\n"
        + pd.DataFrame(rows).to_markdown(index=False) + "\n")
    print(section)
    write_section(Path(args.output), "## Memory: 100 sequential trials", section)


if __name__ == "__main__":
    main()
