"""Does sweeper find a good CNN sooner than its peers? Side by side, same 2 cores, same data.

Four tools search one 8-parameter CNN space for the same wall budget on the same split:
sweeper (``sweeper.api.run``: TPE + ASHA with its default grace period and reduction factor,
its built-in ``cnn`` and other defaults, 2 trials of 1 CPU, budget = ``time_limit``); plain
Ray Tune (Ray's Keras example: one ``fit``, a callback reporting every epoch with a
``model.save`` checkpoint; OptunaSearch + ASHA grace 1 factor 3, 2 trials of 1 CPU, arrays
through ``tune.with_parameters``, ``time_budget_s``); KerasTuner Hyperband (max_epochs 15,
factor 3, one trial at a time; it has no time limit, so an epoch callback ends the trial in
flight, and no trial starts, once the budget is spent); plain Optuna (TPE + HyperbandPruner
1..15 epochs factor 3, ``timeout`` = budget, trials in flight ended at the budget as the
others do, ``n_jobs=2``: measured here, two 2-epoch fits took 5.0-5.9 s side by side in
threads against 5.0-6.2 s one after the other, so n_jobs=1 is not faster).

The peers train one plain Keras CNN (Rescaling, augmentation layers scaled by
``augmentation``, blocks of Conv2D(filters * 2**i) + MaxPool, Flatten, Dense 128, Dropout
0.25; SGD with momentum 0.9); depth 3 of valid 5x5 convolutions does not fit 28x28, and
such a trial fails as a user's would. They read the data through sweeper's own loader, so
all four see the same split; its test split scores each tool's best model once at the end.
Threads: sweeper sizes TF's pools to its trials (1 each); Ray Tune trials set TF's pools to
1 thread; KerasTuner (sequential) and Optuna (2 threads in one TF runtime) get pools of 2
and OMP_NUM_THREADS=2. Each (tool, seed) runs in a fresh subprocess, interleaved by seed.
Times count from the tool's start in that process (imports, data, Ray's start included);
the budget counts from its search's start, as each tool counts it.

    .venv/bin/python benchmarks/time_to_target.py [--dataset mnist|colour] [--seeds 0 1 2]
        [--budget 360] [--tools sweeper raytune kerastuner optuna] [--targets ...] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from report import write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOOLS = ("sweeper", "raytune", "kerastuner", "optuna")
TARGETS = {"mnist": [0.98, 0.985, 0.987], "colour": [0.90, 0.95, 0.97]}
SEEDS = {"mnist": [0, 1, 2], "colour": [0, 1]}
MAX_EPOCHS = 15
CHOICES: dict[str, list[Any]] = {"optimizer": ["adam", "sgd", "rmsprop"],
                                 "batch_size": [32, 64, 128], "filters": [16, 32, 64],
                                 "kernel_size": [3, 5], "padding": ["same", "valid"]}
LR, DEPTH, AUG = (1.0e-4, 3.0e-2), (1, 3), (0.0, 0.3)
SWEEPER_SPACE: dict[str, Any] = {
    **{name: {"choice": values} for name, values in CHOICES.items()},
    "learning_rate": {"float": list(LR), "log": True}, "depth": {"int": list(DEPTH)},
    "augmentation": {"float": list(AUG)}}


def data_section(dataset: str, path: str | None) -> dict[str, Any]:
    source = {"source": "mnist5k"} if dataset == "mnist" else {"source": "directory", "path": path}
    return {**source, "validation_split": 0.2, "seed": 0}


def load(data: dict[str, Any], threads: int | None) -> tuple[tuple[np.ndarray, ...], bool]:
    """TF's pools sized first, then sweeper's own loader and split of the data section:
    (x_train, y_train, x_val, y_val, x_test, y_test), and whether sweeper would flip."""
    import tensorflow as tf

    from sweeper.config.load import loads
    from sweeper.config.yamlio import dump
    from sweeper.data.dataset import load_dataset

    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    loaded = loads(dump({"name": "bench", "data": data}), file="bench.yaml")
    ds = load_dataset(loaded)
    assert ds.x_test is not None and ds.y_test is not None
    return ((ds.x_train.astype(np.float32), ds.y_train, ds.x_val.astype(np.float32), ds.y_val,
             ds.x_test.astype(np.float32), ds.y_test), loaded.spec.data.flip)


def plain_cnn(p: dict[str, Any], shape: tuple[int, ...], flip: bool) -> Any:
    """The CNN a user writes: raises ValueError where the convolutions do not fit the image."""
    import keras

    a, size, kernel = float(p["augmentation"]), min(shape[:2]), int(p["kernel_size"])
    inputs = keras.Input(shape)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    if a > 0:
        if flip:
            x = keras.layers.RandomFlip("horizontal")(x)
        x = keras.layers.RandomRotation(a * 30 / 360, fill_mode="nearest")(x)
        x = keras.layers.RandomTranslation(a * 0.15, a * 0.15, fill_mode="nearest")(x)
        x = keras.layers.RandomZoom(a * 0.2, fill_mode="nearest")(x)
    for i in range(int(p["depth"])):
        size -= kernel - 1 if p["padding"] == "valid" else 0
        if size < 1:
            raise ValueError(f"infeasible: block {i + 1} of {p} leaves no feature map")
        x = keras.layers.Conv2D(int(p["filters"]) * 2 ** i, kernel, padding=p["padding"],
                                activation="relu")(x)
        if size >= 2:
            x, size = keras.layers.MaxPooling2D()(x), size // 2
    x = keras.layers.Dropout(0.25)(keras.layers.Dense(128, activation="relu")(
        keras.layers.Flatten()(x)))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    lr = float(p["learning_rate"])
    optimizer = {"adam": lambda: keras.optimizers.Adam(lr),
                 "sgd": lambda: keras.optimizers.SGD(lr, momentum=0.9),
                 "rmsprop": lambda: keras.optimizers.RMSprop(lr)}[p["optimizer"]]()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def on_epoch(hook: Callable[[Any, int, dict[str, float]], None]) -> Any:
    """A Keras callback calling hook(model, epoch, logs) after every epoch. KerasTuner
    deep-copies a trial's callbacks: this one stays itself, so what it records is kept."""
    import keras

    class OnEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            hook(self.model, epoch, logs or {})

        def __deepcopy__(self, memo: dict[int, Any]) -> OnEpoch:
            return self

    return OnEpoch()


def sample(choice: Callable[..., Any], real: Callable[..., Any],
           integer: Callable[..., Any]) -> dict[str, Any]:
    """The space through a tool's own suggest calls; real(name, low, high, log)."""
    return {**{name: choice(name, values) for name, values in CHOICES.items()},
            "learning_rate": real("learning_rate", *LR, True),
            "depth": integer("depth", *DEPTH), "augmentation": real("augmentation", *AUG, False)}


def test_accuracy(model: Any, data: tuple[np.ndarray, ...]) -> float:
    return float(model.evaluate(data[4], data[5], batch_size=256, verbose=0)[1])


# -- the tools: each returns (seconds since t0, val_accuracy) events, trials, failed, test
def run_sweeper(data: dict[str, Any], seed: int, budget: float, folder: Path,
                t0: float) -> dict[str, Any]:
    from sweeper import api

    spec = {"name": f"ttt-s{seed}", "data": data,
            "budget": {"trials": 200, "max_epochs": MAX_EPOCHS, "time_limit": budget},
            "search": {"algorithm": "tpe", "seed": seed}, "scheduler": {"kind": "asha"},
            "resources": {"cpus_per_trial": 1, "concurrency": 2}, "space": SWEEPER_SPACE}
    error = ""
    try:
        api.run(spec, runs_dir=folder / "runs", address="local", quiet=True)
    except Exception as exc:  # e.g. no scored trial in a tiny budget: read what it wrote
        error = f"{type(exc).__name__}: {exc}"
    sweep = api.load(spec["name"], folder / "runs")
    history, trials, test = sweep.history, sweep.trials, sweep.test
    offset = sweep.meta.started_at - t0  # history's seconds count from the sweep's start
    events = [] if history.empty else list(zip(history["seconds"] + offset,
                                               history["val_accuracy"], strict=True))
    failed = 0 if trials.empty else int(trials["status"].isin(["failed", "infeasible"]).sum())
    return {"events": events, "trials": len(trials), "failed": failed,
            "test": test.value if test is not None else None, "error": error}


def ray_trainable(config: dict[str, Any], data: tuple[np.ndarray, ...], flip: bool) -> None:
    """Ray's Keras example: one fit, a report with a checkpoint every epoch."""
    import tensorflow as tf
    from ray import tune

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    def report(model: Any, epoch: int, logs: dict[str, float]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            model.save(Path(folder) / "model.keras")
            tune.report({**logs, "epoch": epoch + 1, "wall": time.time()},
                        checkpoint=tune.Checkpoint.from_directory(folder))

    model = plain_cnn(config, data[0].shape[1:], flip)
    model.fit(data[0], data[1], batch_size=int(config["batch_size"]), epochs=MAX_EPOCHS,
              validation_data=(data[2], data[3]), verbose=0, callbacks=[on_epoch(report)])


def run_raytune(data: dict[str, Any], seed: int, budget: float, folder: Path,
                t0: float) -> dict[str, Any]:
    import keras
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    arrays, flip = load(data, None)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    space = {**{name: tune.choice(values) for name, values in CHOICES.items()},
             "learning_rate": tune.loguniform(*LR), "depth": tune.randint(DEPTH[0], DEPTH[1] + 1),
             "augmentation": tune.uniform(*AUG)}
    trainable = tune.with_parameters(ray_trainable, data=arrays[:4], flip=flip)
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}), param_space=space,
        tune_config=tune.TuneConfig(
            metric="val_accuracy", mode="max", num_samples=200, max_concurrent_trials=2,
            search_alg=OptunaSearch(seed=seed), time_budget_s=budget,
            scheduler=ASHAScheduler(time_attr="training_iteration", max_t=MAX_EPOCHS,
                                    grace_period=1, reduction_factor=3)),
        run_config=tune.RunConfig(
            storage_path=str(folder / "ray"), verbose=0,
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=1, checkpoint_score_attribute="val_accuracy",
                checkpoint_score_order="max")))
    grid = tuner.fit()
    events: list[tuple[float, float]] = []
    best: tuple[float, Any] = (-1.0, None)
    for result in (grid[i] for i in range(len(grid))):  # ResultGrid: no __iter__
        frame = result.metrics_dataframe
        if frame is not None and "val_accuracy" in frame:
            events += list(zip(frame["wall"] - t0, frame["val_accuracy"], strict=True))
        for checkpoint, metrics in result.best_checkpoints or []:
            if float(metrics.get("val_accuracy", -1)) > best[0]:
                best = (float(metrics["val_accuracy"]), checkpoint)
    test = None
    if best[1] is not None:
        with best[1].as_directory() as path:
            test = test_accuracy(keras.models.load_model(Path(path) / "model.keras"), arrays)
    out = {"events": events, "trials": len(grid), "failed": len(grid.errors), "test": test}
    ray.shutdown()
    return out


class BudgetOver(Exception):
    pass


def run_kerastuner(data: dict[str, Any], seed: int, budget: float, folder: Path,
                   t0: float) -> dict[str, Any]:
    import keras_tuner as kt

    arrays, flip = load(data, 2)
    events: list[tuple[float, float]] = []
    deadline = time.monotonic() + budget

    class PlainHyperModel(kt.HyperModel):
        def build(self, hp: kt.HyperParameters) -> Any:
            params = sample(hp.Choice, lambda name, low, high, log: hp.Float(
                name, low, high, sampling="log" if log else "linear"), hp.Int)
            return plain_cnn(params, arrays[0].shape[1:], flip)

        def fit(self, hp: kt.HyperParameters, model: Any, *args: Any, **kwargs: Any) -> Any:
            return model.fit(*args, batch_size=hp.get("batch_size"), **kwargs)

    class Budgeted(kt.Hyperband):
        def pre_create_trial(self) -> None:  # search() asks before every new trial
            if time.monotonic() >= deadline:
                raise BudgetOver

    def record(model: Any, epoch: int, logs: dict[str, float]) -> None:
        events.append((time.time() - t0, float(logs["val_accuracy"])))
        if time.monotonic() >= deadline:
            model.stop_training = True  # the trial ends now, recorded as usual

    tuner = Budgeted(PlainHyperModel(), objective="val_accuracy", max_epochs=MAX_EPOCHS,
                     factor=3, seed=seed, directory=str(folder / "kt"), project_name="ttt",
                     max_consecutive_failed_trials=10_000, overwrite=True)
    with contextlib.suppress(BudgetOver):
        tuner.search(arrays[0], arrays[1], validation_data=(arrays[2], arrays[3]), verbose=0,
                     callbacks=[on_epoch(record)])
    trials = list(tuner.oracle.trials.values())
    scored = any(t.score is not None for t in trials)
    return {"events": events, "trials": len(trials),
            "failed": sum(t.status in ("FAILED", "INVALID") for t in trials),
            "test": test_accuracy(tuner.get_best_models(1)[0], arrays) if scored else None}


def run_optuna(data: dict[str, Any], seed: int, budget: float, folder: Path,
               t0: float) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    arrays, flip = load(data, 2)
    events: list[tuple[float, float]] = []
    lock = threading.Lock()
    best: dict[str, Any] = {"val": -1.0, "params": None, "weights": None}
    deadline = time.monotonic() + budget

    def objective(trial: optuna.Trial) -> float:
        params = sample(trial.suggest_categorical, lambda name, low, high, log:
                        trial.suggest_float(name, low, high, log=log), trial.suggest_int)
        pruned = []

        def report(model: Any, epoch: int, logs: dict[str, float]) -> None:
            val = float(logs["val_accuracy"])
            with lock:
                events.append((time.time() - t0, val))
                if val > best["val"]:  # the best epoch so far, kept in memory
                    best.update(val=val, params=params, weights=model.get_weights())
            trial.report(val, epoch + 1)
            if trial.should_prune():
                pruned.append(epoch)
            model.stop_training = bool(pruned) or time.monotonic() >= deadline

        history = plain_cnn(params, arrays[0].shape[1:], flip).fit(
            arrays[0], arrays[1], batch_size=params["batch_size"], epochs=MAX_EPOCHS,
            validation_data=(arrays[2], arrays[3]), verbose=0, callbacks=[on_epoch(report)])
        if pruned:
            raise optuna.TrialPruned()
        return float(max(history.history["val_accuracy"]))

    study = optuna.create_study(
        study_name=f"ttt-{seed}",  # HyperbandPruner's brackets hash the study's name
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=MAX_EPOCHS,
                                              reduction_factor=3))
    study.optimize(objective, timeout=budget, n_jobs=2, catch=(ValueError,))
    test = None
    if best["params"] is not None:
        model = plain_cnn(best["params"], arrays[0].shape[1:], flip)
        model.set_weights(best["weights"])
        test = test_accuracy(model, arrays)
    return {"events": events, "trials": len(study.trials), "test": test,
            "failed": sum(t.state == optuna.trial.TrialState.FAIL for t in study.trials)}


RUNNERS = {"sweeper": run_sweeper, "raytune": run_raytune, "kerastuner": run_kerastuner,
           "optuna": run_optuna}


def one(tool: str, seed: int, args: argparse.Namespace) -> None:
    """One (tool, seed) in this fresh process: prints a RESULT line of JSON."""
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="ttt-") as tmp:
        out = RUNNERS[tool](data_section(args.dataset, args.data_path), seed, args.budget,
                            Path(tmp), t0)
    out.update(tool=tool, seed=seed, wall_s=time.time() - t0,
               events=[(float(t), float(v)) for t, v in out["events"]])
    print("RESULT " + json.dumps(out), flush=True)


def spawn(tool: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", tool, str(seed), "--dataset", args.dataset,
               "--budget", str(args.budget), "--data-path", args.data_path or ""]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RAY_AIR_NEW_OUTPUT": "0"}
    if tool in ("kerastuner", "optuna"):
        env["OMP_NUM_THREADS"] = "2"
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=args.budget * 3 + 900)
        stdout, stderr, why = done.stdout, done.stderr, f"exit {done.returncode}"
    except subprocess.TimeoutExpired as exc:
        stdout, stderr, why = str(exc.stdout or ""), str(exc.stderr or ""), "timed out"
    lines = [x for x in stdout.splitlines() if x.startswith("RESULT ")]
    if lines:
        return dict(json.loads(lines[-1][len("RESULT "):]))
    print(stdout[-3000:], stderr[-5000:], sep="\n", file=sys.stderr)
    return {"tool": tool, "seed": seed, "events": [], "trials": 0, "failed": 0, "test": None,
            "wall_s": None, "error": why}


def measures(run: dict[str, Any], targets: list[float]) -> dict[str, Any]:
    events = sorted(run["events"])
    row: dict[str, Any] = {"tool": run["tool"], "seed": run["seed"]}
    for target in targets:
        row[f"t>={target}"] = next((t for t, v in events if v >= target), math.inf)
    return {**row, "best": max((v for _, v in events), default=None), "test": run["test"],
            "epochs": len(events), "trials": run["trials"], "failed": run["failed"],
            "wall_s": run["wall_s"]}


def summary(table: pd.DataFrame, targets: list[float]) -> tuple[pd.DataFrame, str]:
    """Medians per tool (not reached = infinity), and sweeper's against the best peer's."""
    frame = pd.DataFrame([
        {"tool": tool, **{f"median t>={t}": float(np.median(group[f"t>={t}"])) for t in targets},
         "median best": group["best"].astype(float).median(),
         "median test": group["test"].astype(float).median(), "runs": len(group)}
        for tool, group in table.groupby("tool", sort=False)])
    key = f"median t>={targets[-1]}"
    mine = frame.loc[frame["tool"] == "sweeper", key]
    peers = frame.loc[frame["tool"] != "sweeper", key]
    if mine.empty or peers.empty:
        return frame, "n/a (sweeper or every peer left out)"
    ours, theirs = float(mine.iloc[0]), float(peers.min())
    peer = frame.loc[peers.idxmin(), "tool"]
    if math.isinf(ours) and math.isinf(theirs):
        return frame, f"n/a: no tool's median run reached {targets[-1]}"
    if math.isinf(ours) or math.isinf(theirs):
        return frame, (f"sweeper {ours:.0f} s, best peer ({peer}) {theirs:.0f} s"
                       .replace("inf s", "not reached"))
    return frame, f"{ours / theirs:.2f}x ({ours:.0f} s against {peer}'s {theirs:.0f} s)"


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if column.startswith(("t>=", "median t>=", "wall")):
            never = "-" if column == "wall_s" else "not reached"
            out[column] = out[column].map(lambda v, never=never: never if v is None or not (
                math.isfinite(v)) else f"{v:.0f}")
        elif column in ("best", "test", "median best", "median test"):
            out[column] = out[column].map(lambda v: "-" if v is None or pd.isna(v)
                                          else f"{v:.4f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["mnist", "colour"], default="mnist")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--budget", type=float, default=360.0)
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--targets", type=float, nargs="+")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("TOOL", "SEED"), help=argparse.SUPPRESS)
    parser.add_argument("--data-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one[0], int(args.one[1]), args)
        return
    seeds = args.seeds if args.seeds is not None else SEEDS[args.dataset]
    targets = sorted(args.targets or TARGETS[args.dataset])
    rows = []
    with tempfile.TemporaryDirectory(prefix="ttt-data-") as tmp:
        if args.dataset == "colour":
            from tests.images import write_colour_shapes

            args.data_path = str(Path(tmp) / "colour")
            write_colour_shapes(Path(args.data_path), per_class=300, size=40, seed=0)
        for seed in seeds:  # interleaved: every tool for seed 0, then seed 1, ...
            for tool in args.tools:
                run = spawn(tool, seed, args)
                rows.append(measures(run, targets))
                print(rows[-1], run.get("error") or "", flush=True)
    table = pd.DataFrame(rows)
    frame, ratio = summary(table, targets)
    print(shown(table).to_string(index=False), shown(frame).to_string(index=False),
          f"sweeper's median time to {targets[-1]} against the best peer's: {ratio}", sep="\n")
    if args.no_write:
        return
    heading = f"## Time to target: {args.dataset}"
    data = ("MNIST-5k (3,500 train / 1,000 validation / 500 test)" if args.dataset == "mnist"
            else "A folder of drawn colour shapes (10 classes, 40x40 RGB, 3,000 images: "
                 "2,100 train / 600 validation / 300 test)")
    command = (f".venv/bin/python benchmarks/time_to_target.py --dataset {args.dataset} "
               f"--seeds {' '.join(map(str, seeds))} --budget {args.budget:g} --tools "
               f"{' '.join(args.tools)} --targets {' '.join(map(str, targets))}")
    write_section(Path(args.output), heading, f"""{heading}

Command: `{command}`

{data}.

Every tool sees the same split (sweeper's loader) and searches the same 8-parameter CNN
space for {args.budget:g} s on 2 cores, each in a fresh process (the script's docstring
says how each uses the cores). `t>=X`: seconds from the tool's start
(imports, data, Ray included) until an epoch of any trial first reached val_accuracy X.
`best`: the best val_accuracy; `test`: that trial's best epoch on the held-out test split,
scored once. `failed`: trials that failed (infeasible shapes included).

{shown(table).to_markdown(index=False, disable_numparse=True)}

Medians over seeds (a run that did not reach a target counts as never reaching it):

{shown(frame).to_markdown(index=False, disable_numparse=True)}

sweeper's median time to {targets[-1]} against the best peer's: **{ratio}**.
""")


if __name__ == "__main__":
    main()
