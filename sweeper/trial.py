"""One trial inside a Ray worker: data -> model -> one ``fit()`` reporting every epoch.

A trial ends on its own as completed, stopped_early or failed (oom, nan_loss, error); only
infrastructure failures (a dead worker or node) escape to Tune, which retries them from the
last checkpoint. TensorFlow stays imported in the worker across trials (actor reuse).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sweeper.data import Dataset, WorkerLoadedData
from sweeper.status import Reason, Status

CHECKPOINT_MODEL = "model.keras"
CHECKPOINT_STATE = "state.json"
_configured_process = False


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of a sweep shares."""

    model_kind: str
    metric: str
    mode: str
    max_epochs: int
    patience: int | None
    min_delta: float
    cpus_per_trial: float
    gpus_per_trial: float
    horizontal_flip: bool
    builder_dirs: tuple[str, ...] = ()


@dataclass
class TrialPayload:
    """Shipped once through Ray's object store and shared by every trial."""

    settings: TrialSettings
    dataset: Dataset | WorkerLoadedData

    def data(self) -> Dataset:
        if isinstance(self.dataset, WorkerLoadedData):
            return self.dataset.load()
        return self.dataset


@dataclass
class EarlyStoppingState:
    """Epoch count and patience state; saved in every checkpoint so they survive restarts."""

    epoch: int = 0
    best: float | None = None
    best_epoch: int = 0
    wait: int = 0

    def improved(self, value: float, mode: str, min_delta: float) -> bool:
        if self.best is None:
            return True
        return value > self.best + min_delta if mode == "max" else value < self.best - min_delta


class TrialFailure(Exception):
    """A trial-level failure with its reason (the trial ends; the sweep goes on)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def gpu_memory_limit_mb(fraction: float, total_mb: int) -> int | None:
    """Cap for a trial that owns ``fraction`` of a GPU (None for whole GPUs)."""
    if fraction <= 0 or fraction >= 1:
        return None
    return max(256, int(total_mb * fraction))


def _gpu_total_memory_mb(index: str) -> int | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits",
             "-i", index], capture_output=True, text=True, timeout=20, check=True)
        return int(out.stdout.strip().splitlines()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def configure_process(settings: TrialSettings) -> None:
    """Thread pools sized to the trial's CPUs, GPU memory capped to its share; once per process.

    TensorFlow accepts these only before it initializes, i.e. in a worker's first trial; with
    actor reuse every later trial of that worker has the same resources.
    """
    global _configured_process
    if _configured_process:
        return
    import tensorflow as tf

    threads = max(1, round(settings.cpus_per_trial))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:
        pass  # already initialized by an earlier import; keep its pools
    gpus = tf.config.list_physical_devices("GPU")
    visible = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g]
    for gpu, index in zip(gpus, visible, strict=False):
        total = _gpu_total_memory_mb(index)
        limit = gpu_memory_limit_mb(settings.gpus_per_trial, total) if total else None
        try:
            if limit is not None:
                tf.config.set_logical_device_configuration(
                    gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
            else:
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass
    _configured_process = True


def resident_mb() -> float:
    """This process's resident memory now (Linux /proc; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def placement() -> dict[str, Any]:
    """Where this trial runs: Ray node, address, the GPUs it was given, the process."""
    import ray

    return {
        "node_id": ray.get_runtime_context().get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "gpu_ids": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        "pid": os.getpid(),
    }


def classify(exc: BaseException) -> TrialFailure:
    """OOM and NaN are reasons of their own; anything else is an error with its traceback."""
    import tensorflow as tf

    if isinstance(exc, TrialFailure):
        return exc
    detail = "".join(traceback.format_exception(exc)).strip()
    if isinstance(exc, tf.errors.ResourceExhaustedError | MemoryError) or "OOM" in str(exc)[:200]:
        return TrialFailure(Reason.OOM, detail)
    return TrialFailure(Reason.ERROR, detail)


def _make_report_callback(settings: TrialSettings, state: EarlyStoppingState,
                          base: dict[str, Any], resumed_from: int | None) -> Any:
    import keras
    from ray import tune

    class ReportEachEpoch(keras.callbacks.Callback):
        """Reports every epoch to Tune with a checkpoint; applies early stopping."""

        def __init__(self) -> None:
            super().__init__()
            self.started = time.monotonic()
            self.first = True
            self.start_iterations = 0
            self.epoch = 0

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            # after a restore: the optimizer's step count as loaded from the checkpoint
            self.start_iterations = int(self.model.optimizer.iterations.numpy())

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.started = time.monotonic()
            self.epoch = epoch

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                # stop at once: a NaN never reaches an epoch report, the scheduler or a score
                raise TrialFailure(Reason.NAN_LOSS, f"loss became {float(loss)} at batch "
                                   f"{batch + 1} of epoch {self.epoch + 1}")

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            if not all(math.isfinite(v) for v in logs.values()):
                self.model.stop_training = True
                raise TrialFailure(Reason.NAN_LOSS, f"non-finite metrics at epoch {epoch + 1}: "
                                   f"{logs}")
            if settings.metric not in logs:
                raise TrialFailure(Reason.ERROR, f"the model does not log objective.metric "
                                   f"{settings.metric!r}; it logs {', '.join(logs)}")
            value = logs[settings.metric]
            state.epoch = epoch + 1
            if state.improved(value, settings.mode, settings.min_delta):
                state.best, state.best_epoch, state.wait = value, state.epoch, 0
            else:
                state.wait += 1
            status = Status.RUNNING
            if state.epoch >= settings.max_epochs:
                status = Status.COMPLETED
            elif settings.patience is not None and state.wait >= settings.patience:
                status = Status.STOPPED_EARLY
                self.model.stop_training = True
            metrics = {
                **base, **logs,
                "epoch": state.epoch,
                "objective": value,
                "best_objective": state.best,
                "best_epoch": state.best_epoch,
                "status": str(status),
                "reason": "",
                "lr": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
                "epoch_seconds": round(time.monotonic() - self.started, 4),
                "optimizer_iterations": int(self.model.optimizer.iterations.numpy()),
                "resumed_from_epoch": resumed_from if self.first else None,
                "resumed_iterations": self.start_iterations if self.first else None,
                "rss_mb": resident_mb(),
            }
            self.first = False
            with tempfile.TemporaryDirectory(prefix="sweeper-ckpt-") as folder:
                self.model.save(Path(folder) / CHECKPOINT_MODEL)
                (Path(folder) / CHECKPOINT_STATE).write_text(json.dumps(asdict(state)))
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    return ReportEachEpoch()


def run_trial(config: dict[str, Any], payload: TrialPayload) -> None:
    """The Tune trainable. ``config`` = {"params": sampled values, "seed": int, "number": int}."""
    import sys

    settings = payload.settings
    for folder in settings.builder_dirs:
        if folder not in sys.path:
            sys.path.insert(0, folder)
    configure_process(settings)
    import keras
    from ray import tune

    from sweeper.models import InputInfo, build

    keras.backend.clear_session()  # free the previous trial's graph in a reused worker
    params: dict[str, Any] = dict(config["params"])
    seed = int(config["seed"])
    base = {**placement(), "seed": seed, "number": int(config["number"])}
    state = EarlyStoppingState()
    resumed_from: int | None = None
    try:
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                model = keras.models.load_model(Path(folder) / CHECKPOINT_MODEL)
                state = EarlyStoppingState(
                    **json.loads((Path(folder) / CHECKPOINT_STATE).read_text()))
            resumed_from = state.epoch
            keras.utils.set_random_seed(seed + state.epoch)
        else:
            keras.utils.set_random_seed(seed)
            data = payload.data()
            mean, variance = data.channel_stats()
            info = InputInfo(data.image_size, data.channels, data.num_classes, mean, variance,
                             settings.horizontal_flip)
            model = _build_with_hook(settings.model_kind, params, info, build)
        base["param_count"] = int(model.count_params())
        if state.epoch >= settings.max_epochs:
            return
        _fit(model, payload, params, seed, state, base, resumed_from)
    except TrialFailure as failure:
        _report_failure(failure, base, state, settings)
    except Exception as exc:  # every trial-level error ends the trial, not the sweep
        _report_failure(classify(exc), base, state, settings)


def _build_with_hook(kind: str, params: dict[str, Any], info: Any, build: Any) -> Any:
    from sweeper.builders import import_builder

    builder = None if kind == "cnn" else import_builder(kind)
    return build(kind, builder, params, info)


def _fit(model: Any, payload: TrialPayload, params: dict[str, Any], seed: int,
         state: EarlyStoppingState, base: dict[str, Any], resumed_from: int | None) -> None:
    from sweeper.data import pipeline

    data, settings = payload.data(), payload.settings
    batch_size = int(params.get("batch_size", 64))
    model.fit(
        pipeline(data.x_train, data.y_train, batch_size, training=True, seed=seed + state.epoch),
        validation_data=pipeline(data.x_val, data.y_val, batch_size, training=False, seed=seed),
        epochs=settings.max_epochs, initial_epoch=state.epoch, shuffle=False, verbose=0,
        callbacks=[_make_report_callback(settings, state, base, resumed_from)])


def _report_failure(failure: TrialFailure, base: dict[str, Any], state: EarlyStoppingState,
                    settings: TrialSettings) -> None:
    from ray import tune

    tune.report({
        **base,
        "epoch": state.epoch,
        "objective": state.best,  # never NaN: the scheduler wrapper drops failed results
        "best_objective": state.best,
        "best_epoch": state.best_epoch,
        "status": str(Status.FAILED),
        "reason": str(failure.reason),
        "error": failure.detail[-4000:],
    })

