"""One trial inside a Ray worker: the Tune trainable around the training loop.

A trial ends on its own as completed, stopped_early or failed (oom, nan_loss, error); only
infrastructure failures (a dead worker or node) escape to Tune, which retries them from the
last checkpoint. TensorFlow stays imported in the worker across trials (actor reuse).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sweeper.data.dataset import Dataset, WorkerLoadedData
from sweeper.models.cost import measured_cost
from sweeper.models.inputs import InputInfo
from sweeper.models.kinds import ModelKind, fitter
from sweeper.result import TrialResult
from sweeper.status import Status
from sweeper.trial.checkpoint import CheckpointPolicy, read_checkpoint, write_checkpoint
from sweeper.trial.loop import (
    ConstraintViolated,
    EarlyStoppingState,
    LoopSettings,
    StopRequested,
    TrialFailure,
    classify,
    fit,
)
from sweeper.trial.process import configure_process, placement

__all__ = ["TrialPayload", "TrialSettings", "input_info", "run_trial"]


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of a sweep shares."""

    kind: ModelKind
    loop: LoopSettings
    cpus_per_trial: float
    gpus_per_trial: float
    horizontal_flip: bool
    checkpoints: CheckpointPolicy


@dataclass
class TrialPayload:
    """Shipped once through Ray's object store and shared by every trial."""

    settings: TrialSettings
    dataset: Dataset | WorkerLoadedData

    def data(self) -> Dataset:
        if isinstance(self.dataset, WorkerLoadedData):
            return self.dataset.load()
        return self.dataset


def input_info(data: Dataset, horizontal_flip: bool) -> InputInfo:
    """What a model kind is told about the data (the training split's statistics included)."""
    mean, variance = data.channel_stats()
    return InputInfo(data.image_size, data.channels, data.num_classes, mean, variance,
                     horizontal_flip)


def _reporter(state: EarlyStoppingState, policy: CheckpointPolicy) -> Any:
    """The loop's sink in a trial: each epoch to Tune, with a checkpoint where the policy
    wants one (the loop keeps ``state`` in step with the results)."""
    from ray import tune

    last_checkpoint = time.monotonic()

    def report(result: TrialResult, model: Any) -> None:
        nonlocal last_checkpoint
        if not policy.due(result, time.monotonic() - last_checkpoint):
            tune.report(result.to_tune())
            return
        with tempfile.TemporaryDirectory(prefix="sweeper-ckpt-") as folder:
            started = time.monotonic()
            write_checkpoint(Path(folder), model, state)
            last_checkpoint = time.monotonic()
            result = replace(result, checkpoint_seconds=round(last_checkpoint - started, 4))
            tune.report(result.to_tune(), checkpoint=tune.Checkpoint.from_directory(folder))

    return report


# Tune waits this long for a stopped trial's thread before it reuses the worker, and fails
# the next trial when the wait runs out (2 s by default: shorter than most epochs). The loop
# stops within a batch; this only bounds a batch that is slow itself.
THREAD_TIMEOUT_ENV = "TUNE_FUNCTION_THREAD_TIMEOUT_S"
THREAD_TIMEOUT_S = "120"


def _stop_requested() -> bool:
    """Whether Tune has stopped this trial (its session's stop event, set by
    ``reset_config``/``stop`` while the training thread still runs)."""
    from ray.train._internal.session import get_session

    session = get_session()
    event = getattr(session, "stop_event", None)
    return bool(event is not None and event.is_set())


def run_trial(config: dict[str, Any], payload: TrialPayload) -> None:
    """The Tune trainable. ``config`` = {"params": sampled values, "seed": int, "number": int}."""
    settings = payload.settings
    os.environ.setdefault(THREAD_TIMEOUT_ENV, THREAD_TIMEOUT_S)
    configure_process(settings.cpus_per_trial, settings.gpus_per_trial)
    import keras
    from ray import tune

    keras.backend.clear_session()  # free the previous trial's graph in a reused worker
    params: dict[str, Any] = dict(config["params"])
    seed, number = int(config["seed"]), int(config["number"])
    base = TrialResult(number=number, seed=seed, epoch=0, status=Status.RUNNING,
                       placement=placement())
    state = EarlyStoppingState()
    resumed_from: int | None = None
    try:
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                model, state = read_checkpoint(Path(folder))
            resumed_from = state.epoch
            keras.utils.set_random_seed(seed + state.epoch)
        else:
            keras.utils.set_random_seed(seed)
            model = settings.kind.build(params, input_info(payload.data(),
                                                           settings.horizontal_flip))
        cost = measured_cost(model)
        base = replace(base, param_count=cost.param_count, flops=cost.flops, epoch=state.epoch,
                       best_objective=state.best, best_epoch=state.best_epoch,
                       best_metrics=dict(state.best_metrics),
                       mean_epoch_seconds=state.mean_epoch_seconds,
                       first_epoch_seconds=state.first_epoch_seconds)
        if state.ended(settings.loop):
            return
        why = settings.loop.limits.over_size(cost.param_count, cost.flops)
        if why is not None:  # counted once built, before a step of training
            raise ConstraintViolated(why)
        fit(model, payload.data(), params, seed, settings.loop, state, base,
            _reporter(state, settings.checkpoints),
            resumed_from, stop_requested=_stop_requested,
            fitter=fitter(settings.kind, params))  # a HyperModel's own fit, else None
    except StopRequested:
        return  # Tune stopped the trial: it has every result it will use
    except TrialFailure as failure:
        _report_failure(base, state, failure)
    except Exception as exc:  # every trial-level error ends the trial, not the sweep
        _report_failure(base, state, classify(exc))


def _report_failure(base: TrialResult, state: EarlyStoppingState,
                    failure: TrialFailure) -> None:
    from ray import tune

    # objective: the best so far, never NaN (the scheduler wrapper drops failed results)
    reached = replace(base, epoch=state.epoch, best_objective=state.best,
                      best_epoch=state.best_epoch, findings=failure.findings)
    status = Status.FAILED
    if isinstance(failure, ConstraintViolated):
        status = Status.INFEASIBLE
        if failure.epoch_seconds is not None:  # the epoch at its pace: what the sampler is told
            reached = replace(reached, first_epoch_seconds=failure.epoch_seconds)
    tune.report(reached.failure(failure.reason, failure.detail, status).to_tune())
