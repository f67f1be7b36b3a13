"""Planted faults: does each detector find its fault, stay silent on healthy models, cost
little, and does diagnosis pruning find the best model sooner?

Three parts, each a table in BENCHMARKS.md ("Diagnosis"):

1. ``detection``: every recipe of ``tests/planted.py`` (fixed before the thresholds were
   tuned: healthy models of several kinds, with and without batch norm and augmentation,
   and one fault planted per recipe, through a custom builder and through the built-in
   CNN's own knobs) trained through the trial loop with diagnosis on and pruning off, on
   each data set. A fault is found when its code is among the trial's findings; a healthy
   model raises a false alarm with any finding. Healthy models must reach within 0.02 of the
   best healthy accuracy on their data (the table says which do).
2. ``overhead``: the built-in CNN's and the Sequential CNN's training time per epoch (epochs
   after the first, validation left out) with diagnosis on and off, interleaved.
3. ``sweeps``: the same sweep (a wide search space a user might write, with regions where
   training fails) with diagnosis pruning and with ASHA alone (``diagnosis: {enabled:
   false}``), side by side for each seed; the time the diagnosis sweep takes to reach the
   ASHA-only sweep's best value, as a ratio of the ASHA-only sweep's time to it. Both start
   without the defaults' trial (``search.defaults_first: false``): the built-in defaults
   are a good model, and a sweep that starts with them measures the defaults, not the
   search.

    .venv/bin/python benchmarks/diagnosis.py [--parts detection overhead sweeps]
        [--sources digits mnist5k] [--seeds 0 1 2] [--budget 180]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from report import write_section

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from tests.planted import FAULTS, HEALTHY, Outcome, load_data, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def detection(sources: list[str]) -> tuple[pd.DataFrame, list[Outcome]]:
    outcomes = []
    for source in sources:
        data = load_data(source)
        for recipe in HEALTHY + FAULTS:
            if source not in recipe.sources:
                continue
            outcome = train(recipe, source, data)
            outcomes.append(outcome)
            print(f"{source:8s} {recipe.name:40s} plants {recipe.plants or '-':20s} found "
                  f"{','.join(outcome.codes) or '-'} best {outcome.best} "
                  f"({outcome.seconds:.0f} s){' ' + outcome.failed if outcome.failed else ''}",
                  flush=True)
    rows = []
    for o in outcomes:
        best_healthy = max((x.best or 0.0) for x in outcomes
                           if x.source == o.source and x.recipe.plants is None)
        healthy = o.recipe.plants is None
        rows.append({
            "data": o.source, "recipe": o.recipe.name, "planted": o.recipe.plants or "healthy",
            "found": ", ".join(o.codes) or "-",
            "result": ("false alarm" if o.codes else "silent") if healthy else
                      ("found" if o.recipe.plants in o.codes else "MISSED"),
            "best": "-" if o.best is None else f"{o.best:.3f}",
            "within 0.02": ("yes" if (o.best or 0.0) >= best_healthy - 0.02 else "no")
                           if healthy else "",
            "epochs": o.epochs})
    return pd.DataFrame(rows), outcomes


def overhead(source: str, repeats: int = 3, epochs: int = 6) -> pd.DataFrame:
    """Two measures: the diagnosis's own time (``probe_seconds``: probes and detectors,
    clocked inside the trial) against the epoch's training time, which is exact; and the
    training time per epoch with diagnosis on and off, interleaved in alternating order,
    which includes everything but is as noisy as a shared machine's timings."""
    data = load_data(source)
    rows = []
    for recipe in (HEALTHY[0], HEALTHY[5]):
        timed: dict[str, list[float]] = {"on": [], "off": []}
        own: list[tuple[float, float, bool]] = []  # (diagnosis s, training s, first epoch)
        longer = replace(recipe, epochs=epochs)
        for repeat in range(repeats):
            order = [("on", {"prune": False}), ("off", {"enabled": False})]
            for label, diagnosis in order if repeat % 2 == 0 else order[::-1]:
                outcome = train(longer, source, data, diagnosis)
                timed[label] += outcome.train_seconds[1:]  # epoch 1 traces the functions
                if label == "on":
                    own += [(c["probe_seconds"], t, i == 0) for i, (c, t) in enumerate(
                        zip(outcome.curves, outcome.train_seconds, strict=True))]
        on, off = (sum(v) / len(v) for v in (timed["on"], timed["off"]))
        later = [(d, t) for d, t, first in own if not first]
        firsts = [(d, t) for d, t, first in own if first]
        rows.append({
            "model": recipe.name, "data": source, "epochs timed": len(timed["on"]),
            "diagnosis s / training s, epochs 2-6": _share(later),
            "same, epoch 1 (tracing the probe)": _share(firsts),
            "train s/epoch off": round(off, 3), "on": round(on, 3),
            "on/off": f"{on / off - 1:+.1%}"})
    return pd.DataFrame(rows)


def _share(pairs: list[tuple[float, float]]) -> str:
    return f"{sum(d for d, _ in pairs) / sum(t for _, t in pairs):.1%}"


SWEEP_SPACE = {
    "optimizer": {"choice": ["adam", "sgd", "rmsprop"]},
    "learning_rate": {"float": [1.0e-6, 3.0], "log": True},
    "batch_norm": {"choice": [True, False]},
    "batch_norm_momentum": {"choice": [0.9, 0.99, 0.999]},
    "activation": {"choice": ["relu", "tanh", "elu"]},
    "augmentation": {"float": [0.0, 1.0]},
    "dropout": {"float": [0.0, 0.6]},
    "depth": {"int": [1, 4]},
    "batch_size": {"choice": [32, 64, 128, 256]},
}


def _sweep(name: str, seed: int, budget: int, diagnosis: dict[str, Any],
           runs: Path) -> pd.DataFrame:
    import sweeper

    spec = {"name": name, "data": {"source": "mnist5k", "seed": 0},
            "budget": {"trials": 200, "max_epochs": 6, "time_limit": f"{budget}s"},
            "search": {"seed": seed, "defaults_first": False}, "scheduler": {"kind": "asha"},
            "resources": {"cpus_per_trial": 1}, "diagnosis": diagnosis,
            "space": SWEEP_SPACE}
    sweep = sweeper.run(spec, runs_dir=runs, address="local")
    return sweep.history


def _time_to(history: pd.DataFrame, target: float) -> float | None:
    hit = history[history["objective"] >= target - 1e-12]
    return None if hit.empty else float(hit["seconds"].min())


def sweeps(seeds: list[int], budget: int) -> pd.DataFrame:
    rows = []
    with tempfile.TemporaryDirectory(prefix="diagnosis-bench-") as tmp:
        for seed in seeds:
            asha = _sweep(f"asha-{seed}", seed, budget, {"enabled": False}, Path(tmp))
            diag = _sweep(f"diag-{seed}", seed, budget, {}, Path(tmp))
            target = float(asha["objective"].max())
            t_asha, t_diag = _time_to(asha, target), _time_to(diag, target)
            trials = {k: h["trial_id"].nunique() for k, h in (("asha", asha), ("diag", diag))}
            rows.append({
                "seed": seed, "ASHA-only best": f"{target:.4f}",
                "ASHA-only time to it (s)": t_asha,
                "diagnosis best": f"{diag['objective'].max():.4f}",
                "diagnosis time to ASHA's best (s)": t_diag if t_diag is not None
                else "not reached",
                "ratio": "-" if t_diag is None or not t_asha else f"{t_diag / t_asha:.2f}",
                "trials ASHA / diagnosis": f"{trials['asha']} / {trials['diag']}",
                "epochs ASHA / diagnosis": f"{len(asha)} / {len(diag)}"})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["detection", "overhead", "sweeps"])
    parser.add_argument("--sources", nargs="+", default=["digits", "mnist5k"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=180, help="seconds per sweep")
    args = parser.parse_args()
    command = "benchmarks/diagnosis.py " + " ".join(sys.argv[1:])
    lines = ["## Diagnosis", "", f"`.venv/bin/python {command}`", ""]
    if "detection" in args.parts:
        table, _ = detection(args.sources)
        faults = table[table["planted"] != "healthy"]
        healthy = table[table["planted"] == "healthy"]
        found = (faults["result"] == "found").sum()
        alarms = (healthy["result"] == "false alarm").sum()
        lines += [f"**Detection**: {found} of {len(faults)} planted faults found "
                  f"({found / max(len(faults), 1):.0%}); {alarms} false alarm(s) on "
                  f"{len(healthy)} healthy trainings.", "", table.to_markdown(index=False), ""]
    if "overhead" in args.parts:
        lines += ["**Overhead** (6 epochs, 3 repeats; `probe_seconds`, history.csv's "
                  "column, clocks the diagnosis inside the trial):", "",
                  overhead(args.sources[-1]).to_markdown(index=False), ""]
    if "sweeps" in args.parts:
        table = sweeps(args.seeds, args.budget)
        ratios = [float(r) for r in table["ratio"] if r != "-"]
        median = sorted(ratios)[len(ratios) // 2] if ratios else math.nan
        lines += [f"**Sweeps** ({args.budget} s each, MNIST-5k, ASHA in both; median ratio "
                  f"{median:.2f}):", "", table.to_markdown(index=False), ""]
    section = "\n".join(lines) + "\n"
    print(section)
    write_section(ROOT / "BENCHMARKS.md", "## Diagnosis", section)


if __name__ == "__main__":
    main()
