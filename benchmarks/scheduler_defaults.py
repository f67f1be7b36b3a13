"""Which ASHA grace period and reduction factor, measured: every trial of a sweep trained to
the end without pruning, then each setting replayed on the recorded curves through a fresh
Ray ``AsyncHyperBandScheduler`` (the one a sweep uses), in the order the epochs arrived.

For each setting: the epochs it would have trained (the cost), the best score among the
trials it kept going (and the epoch each was stopped at), whether the sweep's best trial
survived, and the score it would have found per epoch spent. Defaults should keep the best
trial while cutting the most epochs; a grace period of 1 epoch prunes on the noisiest
signal, since batch norm statistics and the learning rate have not settled yet.

    .venv/bin/python benchmarks/scheduler_defaults.py [--trials 24] [--epochs 8] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
from report import write_section

SETTINGS = [(1, 2), (1, 3), (1, 4), (2, 2), (2, 3), (3, 3)]
SPACE_FILE = Path(__file__).resolve().parent.parent / "search_spaces" / "quickstart.yaml"


def curves(trials: int, epochs: int, seed: int, folder: Path) -> pd.DataFrame:
    from sweeper.api import run

    spec: dict[str, Any] = {
        "name": f"curves-{seed}", "data": {"source": "mnist5k", "seed": 0},
        "budget": {"trials": trials, "max_epochs": epochs},
        "search": {"algorithm": "random", "seed": seed, "defaults_first": False},
        "scheduler": {"kind": "fifo"}, "early_stopping": {"patience": None},
        "resources": {"cpus_per_trial": 1, "concurrency": 2},
        "space": _quickstart_space()}
    sweep = run(spec, runs_dir=folder, address="local")
    return sweep.history.sort_values("seconds")


def _quickstart_space() -> dict[str, Any]:
    import yaml

    return dict(yaml.safe_load(SPACE_FILE.read_text())["space"])


def replay(history: pd.DataFrame, epochs: int, grace: int, rf: int) -> dict[str, Any]:
    from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler

    asha = AsyncHyperBandScheduler(time_attr="epoch", metric="objective", mode="max",
                                   max_t=epochs, grace_period=grace, reduction_factor=rf)
    seen: dict[str, SimpleNamespace] = {}
    stopped: dict[str, int] = {}
    best: dict[str, float] = {}
    for row in history.itertuples():
        if row.trial_id in stopped:
            continue  # pruned: its later epochs would not have run
        trial = seen.get(row.trial_id)
        if trial is None:
            trial = seen[row.trial_id] = SimpleNamespace(trial_id=row.trial_id)
            asha.on_trial_add(None, trial)
        best[row.trial_id] = max(best.get(row.trial_id, 0.0), float(row.objective))
        decision = asha.on_trial_result(None, trial, {"epoch": int(row.epoch),
                                                      "objective": float(row.objective)})
        if decision == TrialScheduler.STOP and int(row.epoch) < epochs:
            stopped[row.trial_id] = int(row.epoch)
    spent = sum(stopped.get(t, epochs) for t in seen)
    full_best = history.groupby("trial_id")["objective"].max()
    return {"grace_period": grace, "reduction_factor": rf, "epochs trained": spent,
            "share of epochs": spent / (len(seen) * epochs),
            "best found": max(best.values()),
            "best trial kept": full_best.idxmax() not in stopped,
            "top-3 kept": sum(t not in stopped for t in full_best.nlargest(3).index)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--output", default=str(Path(__file__).parent.parent / "BENCHMARKS.md"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            history = curves(args.trials, args.epochs, seed, Path(tmp))
            best = float(history.groupby("trial_id")["objective"].max().max())
            for grace, rf in SETTINGS:
                rows.append({"seed": seed, "unpruned best": best,
                             **replay(history, args.epochs, grace, rf)})
    table = pd.DataFrame(rows)
    summary = (table.groupby(["grace_period", "reduction_factor"])
               .agg(**{"share of epochs": ("share of epochs", "mean"),
                       "best found": ("best found", "mean"),
                       "unpruned best": ("unpruned best", "mean"),
                       "best trial kept": ("best trial kept", "mean"),
                       "top-3 kept": ("top-3 kept", "mean")})
               .round(3).reset_index())
    print(table.to_string(index=False))
    print(summary.to_string(index=False))
    section = (
        "## Scheduler defaults: ASHA's grace period and reduction factor\n\n"
        f"Command: `.venv/bin/python benchmarks/scheduler_defaults.py --trials {args.trials} "
        f"--epochs {args.epochs} --seeds {' '.join(map(str, args.seeds))}`\n\n"
        f"MNIST-5k, the quickstart space, {args.trials} random configurations per seed each "
        f"trained {args.epochs} epochs without pruning (2 at a time), then every setting "
        "replayed on the recorded epochs, in arrival order, through a fresh Ray "
        "AsyncHyperBandScheduler. `share of epochs`: epochs the setting would train, of all; "
        "`best found`: the best validation accuracy among epochs it would have run; `best "
        "trial kept`: share of seeds where the unpruned best trial was never stopped; "
        "`top-3 kept`: of the 3 best trials, how many survived. Means over seeds.\n\n"
        + summary.to_markdown(index=False) + "\n")
    write_section(Path(args.output), "## Scheduler defaults", section)


if __name__ == "__main__":
    main()
