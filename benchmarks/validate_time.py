"""How long `sweeper validate` takes on each example file, against a bare `import tensorflow`
timed on the same machine in the same run (the tests check what validate does, never how long:
a 10 s bound failed on a slower machine at 10.2 s).

Each command runs as a user runs it, in a new process, best of ``--repeats``; the ratio is
what to compare across machines. A hypermodel's file imports TensorFlow and builds the model
to discover its space (README, "What runs where"); the others stay light.

    .venv/bin/python benchmarks/validate_time.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from report import write_section

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "search_spaces").glob("*.yaml"))
HEADING = "## Validate: each example file against a bare TensorFlow import"


def best_of(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
        times.append(time.monotonic() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    baseline = best_of([sys.executable, "-c", "import tensorflow"], args.repeats)
    rows = [{"command": "python -c 'import tensorflow'", "seconds": round(baseline, 2),
             "vs import tensorflow": "1.00x"}]
    for example in EXAMPLES:
        seconds = best_of([sys.executable, "-m", "sweeper", "validate",
                           str(example.relative_to(ROOT))], args.repeats)
        rows.append({"command": f"sweeper validate search_spaces/{example.name}",
                     "seconds": round(seconds, 2),
                     "vs import tensorflow": f"{seconds / baseline:.2f}x"})
    section = (
        f"{HEADING}\n\n"
        f"Command: `.venv/bin/python benchmarks/validate_time.py --repeats {args.repeats}`\n\n"
        "Each command in a new process, as a user runs it, best of "
        f"{args.repeats}; the ratio to a bare `python -c 'import tensorflow'` timed in the same "
        "run is what carries across machines.\n\n"
        + pd.DataFrame(rows).to_markdown(index=False) + "\n")
    print(section)
    write_section(Path(args.output), HEADING, section)


if __name__ == "__main__":
    main()
