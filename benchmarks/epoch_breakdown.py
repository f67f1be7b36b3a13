"""Where an epoch's time goes: the seed article's Example 2 CNN on MNIST-5k at one thread,
in plain Keras and inside a sweeper trial (target: sweeper's non-compute share <= 10%).

The same model (Conv32-Pool-Conv64-Pool-Flatten-Dense128, batch 32) runs as a custom builder
under ``sweeper run`` (1 CPU per trial: TensorFlow at one thread) and in plain Keras in a
subprocess at one thread. Each epoch of the trial is split from history.csv: training and
validation (the loop's own clocks), checkpoint (the write, when the policy wanted one) and
report (the rest of the time between two epochs' arrival at the driver: Tune's report, its
checkpoint upload, the recorder). Setup (worker start, data, model build, first tracing)
is once per trial and shown apart. Epoch 1 (tracing) is left out of the per-epoch means.

    .venv/bin/python benchmarks/epoch_breakdown.py [--epochs 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
from report import write_section

BUILDER = '''
import keras


def build(params, input_shape, num_classes):
    model = keras.Sequential([
        keras.Input(input_shape), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(num_classes, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
'''

SPACE = """\
name: {name}
data: {{source: mnist5k, seed: 0}}
model: {{kind: "example2:build"}}
budget: {{trials: 1, max_epochs: {epochs}}}
scheduler: {{kind: fifo}}
early_stopping: {{patience: null}}
failures: {{checkpoint_interval: {interval}}}
resources: {{cpus_per_trial: 1, concurrency: 1}}
space:
  batch_size: 32
"""

PLAIN = '''
import json, sys, time
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras
sys.path.insert(0, sys.argv[1])
from example2 import build
from sweeper import config
from sweeper.data.dataset import load_dataset
data = load_dataset(config.load(sys.argv[2]))
model = build({}, data.x_train.shape[1:], data.num_classes)

class Clock(keras.callbacks.Callback):
    rows = []
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.monotonic()
    def on_test_begin(self, logs=None):
        self.val = time.monotonic()
    def on_epoch_end(self, epoch, logs=None):
        end = time.monotonic()
        self.rows.append({"train": self.val - self.start, "validation": end - self.val})

clock = Clock()
model.fit(data.x_train, data.y_train, batch_size=32, epochs=int(sys.argv[3]),
          validation_data=(data.x_val, data.y_val), verbose=0, callbacks=[clock])
print(json.dumps(clock.rows))
'''


def sweeper_epochs(folder: Path, epochs: int, interval: str) -> tuple[pd.DataFrame, float]:
    name = "breakdown-every-epoch" if interval == "0" else "breakdown-policy"
    path = folder / f"{name}.yaml"
    path.write_text(SPACE.format(name=name, epochs=epochs, interval=interval))
    runs = folder / "runs"
    done = subprocess.run([sys.executable, "-m", "sweeper", "run", str(path), "--runs-dir",
                           str(runs), "--quiet"], capture_output=True, text=True, cwd=folder)
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    history = pd.read_csv(runs / name / "history.csv").sort_values("epoch")
    trial = pd.read_csv(runs / name / "trials.csv").iloc[0]
    wall = history["seconds"].diff()
    frame = pd.DataFrame({
        "training": history["epoch_seconds"] - history["validation_seconds"],
        "validation": history["validation_seconds"],
        "checkpoint": history["checkpoint_seconds"].fillna(0.0),
        "report": wall - history["epoch_seconds"] - history["checkpoint_seconds"].fillna(0.0),
        "data": 0.0})
    setup = float(history["seconds"].iloc[0] - trial["started_s"]
                  - history["epoch_seconds"].iloc[0])
    return frame.iloc[1:], setup


def plain_epochs(folder: Path, epochs: int) -> pd.DataFrame:
    spec = folder / "plain.yaml"
    spec.write_text("name: plain\ndata: {source: mnist5k, seed: 0}\n")
    script = folder / "plain.py"
    script.write_text(PLAIN)
    done = subprocess.run([sys.executable, str(script), str(folder), str(spec), str(epochs)],
                          capture_output=True, text=True, check=True)
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    frame = pd.DataFrame(rows).rename(columns={"train": "training"})
    frame[["checkpoint", "report", "data"]] = 0.0
    return frame.iloc[1:]


def row(label: str, frame: pd.DataFrame, setup: float | None) -> dict[str, Any]:
    means = frame.mean()
    total = float(means.sum())
    compute = float(means["training"] + means["validation"])
    return {"run": label, **{k: round(float(v), 3) for k, v in means.items()},
            "epoch total": round(total, 3),
            "non-compute share": f"{(total - compute) / total:.1%}",
            "setup per trial (s)": "-" if setup is None else round(setup, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--output", default=str(Path(__file__).parent.parent / "BENCHMARKS.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "example2.py").write_text(textwrap.dedent(BUILDER))
        rows = [row("plain Keras (numpy arrays, one fit)", plain_epochs(folder, args.epochs),
                    None)]
        for interval, label in (("0", "sweeper trial, checkpoint every epoch"),
                                ("60s", "sweeper trial, default policy (best, end, 60 s)")):
            frame, setup = sweeper_epochs(folder, args.epochs, interval)
            rows.append(row(label, frame, setup))
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    section = (
        "## Epoch breakdown: plain Keras against a sweeper trial\n\n"
        f"Command: `.venv/bin/python benchmarks/epoch_breakdown.py --epochs {args.epochs}`\n\n"
        "The seed article's Example 2 CNN (Conv32-Pool-Conv64-Pool-Flatten-Dense128, Adam, "
        "batch 32) on MNIST-5k (3,500 train / 1,000 validation), TensorFlow at one thread, "
        f"{args.epochs} epochs; seconds per epoch, mean of epochs 2-{args.epochs} (epoch 1 "
        "traces the graph). `report`: the rest of the time between two epochs at the driver "
        "(Tune's report and checkpoint upload, the recorder, MLflow's queue); `data`: the "
        "pipeline is built once per trial, so its cost is in `setup per trial` (worker start, "
        "data from the object store, model build, first tracing).\n\n"
        + table.to_markdown(index=False) + "\n")
    write_section(Path(args.output), "## Epoch breakdown", section)


if __name__ == "__main__":
    main()
