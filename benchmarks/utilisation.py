"""How busy a finished sweep kept its slots: the sum of the trials' busy time over (last
trial end - first trial start) x slots (target: >= 0.9), from the sweep's trials.csv.

    .venv/bin/python benchmarks/utilisation.py NAME [--runs-dir runs] [--slots 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sweeper.store.tables import read_table


def utilisation(folder: Path, slots: int) -> tuple[float, int, float]:
    trials = read_table(folder / "trials.csv")
    ran = trials[trials["started_s"].notna() & trials["ended_s"].notna()]
    busy = float((ran["ended_s"] - ran["started_s"]).sum())
    span = float(ran["ended_s"].max() - ran["started_s"].min())
    return busy / (span * slots), len(ran), span


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args()
    share, count, span = utilisation(Path(args.runs_dir) / args.name, args.slots)
    print(f"{args.name}: {count} trials over {span:.0f} s on {args.slots} slots: "
          f"utilisation {share:.3f}")


if __name__ == "__main__":
    main()
