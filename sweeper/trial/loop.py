"""The one training loop: a sweep's trial and ``sweeper train`` both fit through it.

Each epoch becomes a ``TrialResult`` handed to the caller's sink (a Tune report with a
checkpoint, or ``sweeper train``'s best weights). The rules are the same for both: the
score is the best epoch's value of the objective, early stopping counts epochs without an
improvement of more than ``min_delta``, and a non-finite loss ends the run at once.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from sweeper.config.schema import SweepSpec
from sweeper.data.dataset import Dataset
from sweeper.data.pipeline import encode_labels, pipeline
from sweeper.diagnosis import PROBE_EXAMPLES, DiagnosisMonitor, DiagnosisSettings
from sweeper.findings import Finding
from sweeper.models.compile import batch_size
from sweeper.models.kinds import Fitter
from sweeper.models.labels import one_hot_classes
from sweeper.models.limits import Limits
from sweeper.objective import Objective
from sweeper.result import TrialResult
from sweeper.status import Reason, Status
from sweeper.trial.process import resident_mb

if TYPE_CHECKING:
    import keras

__all__ = ["ConstraintViolated", "EarlyStoppingState", "EpochSink", "LoopSettings",
           "MissingObjective", "StopRequested", "TrialFailure", "classify", "fit"]

EpochSink = Callable[[TrialResult, "keras.Model"], None]
StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class LoopSettings:
    """What the loop needs of the file: the objective, the epochs, early stopping."""

    objective: Objective
    max_epochs: int
    patience: int | None
    min_delta: float
    diagnosis: DiagnosisSettings | None = None  # None: no diagnosis
    limits: Limits = field(default_factory=Limits)  # the file's hard constraints
    also_logged: tuple[str, ...] = ()  # later objectives Keras must log (not the costs)

    @classmethod
    def of(cls, spec: SweepSpec, max_epochs: int | None = None,
           prune: bool | None = None) -> LoopSettings:
        """``prune``: overrides the file's ``diagnosis.prune`` (``sweeper train`` reports
        findings but trains the configuration it was given to the end)."""
        d = spec.diagnosis
        diagnosis = DiagnosisSettings(
            prune=d.prune if prune is None else prune, ignore=frozenset(d.ignore),
            probe_every=d.probe_every) if d.enabled else None
        return cls(spec.primary.objective(), max_epochs or spec.budget.max_epochs,
                   spec.early_stopping.patience, spec.early_stopping.min_delta, diagnosis,
                   Limits.of(spec.constraints),
                   tuple(o.metric for o in spec.objectives[1:] if not o.is_cost))


@dataclass
class EarlyStoppingState:
    """Epoch count and patience state; saved in every checkpoint so they survive restarts."""

    epoch: int = 0
    best: float | None = None
    best_epoch: int = 0
    wait: int = 0
    diagnosis: dict[str, Any] = field(default_factory=dict)  # the monitor's state
    best_metrics: dict[str, float] = field(default_factory=dict)  # Keras's, at the best epoch
    seconds: float = 0.0  # every epoch's training and validation time, summed
    first_epoch_seconds: float | None = None  # what constraints.max_epoch_seconds limits

    @property
    def mean_epoch_seconds(self) -> float | None:
        return round(self.seconds / self.epoch, 4) if self.epoch else None

    def ended(self, settings: LoopSettings) -> bool:
        """Whether the trial this state belongs to is over: its epochs run, or pruned by a
        severe diagnosis (a retry from that checkpoint must not train on)."""
        pruning = settings.diagnosis is not None and settings.diagnosis.prune
        return self.epoch >= settings.max_epochs or bool(pruning and self.diagnosis.get("stop"))

    def update(self, value: float, objective: Objective, min_delta: float,
               metrics: dict[str, float] | None = None, seconds: float = 0.0) -> None:
        self.epoch += 1
        self.seconds += seconds
        if self.epoch == 1:
            self.first_epoch_seconds = seconds
        if objective.better(value, self.best, min_delta):
            self.best, self.best_epoch, self.wait = value, self.epoch, 0
            self.best_metrics = dict(metrics or {})
        else:
            self.wait += 1


class TrialFailure(Exception):
    """A trial-level failure with its reason (the trial ends; the sweep goes on)."""

    def __init__(self, reason: Reason, detail: str,
                 findings: tuple[Finding, ...] = ()) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.findings = findings  # what the diagnosis saw (a NaN loss: nan_loss last)


class ConstraintViolated(TrialFailure):
    """The trial's model is over one of the file's hard constraints: infeasible, not failed."""

    def __init__(self, detail: str, epoch_seconds: float | None = None) -> None:
        super().__init__(Reason.CONSTRAINT, detail)
        self.epoch_seconds = epoch_seconds  # the too-slow first epoch, projected to its end


class StopRequested(Exception):
    """The caller asked the loop to stop (Tune stopped the trial): end within the batch,
    report nothing more."""


class MissingObjective(TrialFailure):
    """The model does not log the objective's metric."""

    def __init__(self, metric: str, logged: list[str]) -> None:
        super().__init__(Reason.ERROR, f"the model does not log objective.metric {metric!r}; "
                                       f"it logs {', '.join(logged)}")
        self.metric = metric
        self.logged = logged


def classify(exc: BaseException) -> TrialFailure:
    """OOM and NaN are reasons of their own; anything else is an error with its traceback."""
    import tensorflow as tf

    if isinstance(exc, TrialFailure):
        return exc
    detail = "".join(traceback.format_exception(exc)).strip()
    if isinstance(exc, tf.errors.ResourceExhaustedError | MemoryError) or _says_oom(str(exc)):
        return TrialFailure(Reason.OOM, detail)
    return TrialFailure(Reason.ERROR, detail)


# How TensorFlow, XLA and cuDNN word an allocation failure they raise as another type
_OOM_TEXT = ("OOM when allocating", "out of memory", "Out of memory", "CUDA_ERROR_OUT_OF_MEMORY",
             "RESOURCE_EXHAUSTED")


def _says_oom(text: str) -> bool:
    """An allocation failure by its words, not any text that happens to contain "OOM"."""
    return any(marker in text for marker in _OOM_TEXT)


def _epoch_callback(settings: LoopSettings, state: EarlyStoppingState, base: TrialResult,
                    sink: EpochSink, resumed_from: int | None,
                    stop_requested: StopCheck | None, monitor: DiagnosisMonitor | None) -> Any:
    import keras

    class EpochLoop(keras.callbacks.Callback):
        """Turns every epoch into a TrialResult for the sink; applies early stopping.

        Async-safe: Keras then runs the batch hook (and turns each batch's loss into a Python
        number) on a thread of its own, so the training loop never waits for the loss to
        reach the host; an exception raised there reaches ``fit`` at the next batch."""

        async_safe = True

        def __init__(self) -> None:
            super().__init__()
            self.started = time.monotonic()
            self.validation_started: float | None = None
            self.validation_seconds: float | None = None
            self.first = True
            self.start_iterations = 0
            self.epoch = 0

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            # after a restore: the optimizer's step count as loaded from the checkpoint
            self.start_iterations = int(self.model.optimizer.iterations.numpy())
            if monitor is not None:
                monitor.attach(self.model)

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.started = time.monotonic()
            self.validation_started = self.validation_seconds = None
            self.epoch = epoch

        def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.validation_started = time.monotonic()

        def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
            if self.validation_started is not None:
                self.validation_seconds = round(time.monotonic() - self.validation_started, 4)

        def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            # on the training thread between two steps: where the probe may run
            steps = (self.params or {}).get("steps")
            last_epoch = self.epoch + 1 >= settings.max_epochs  # it completes as it is
            if monitor is not None and monitor.before_batch(self.epoch + 1, steps) is not None \
                    and monitor.should_stop and not last_epoch:
                self.model.stop_training = True  # the epoch ends after this batch

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if stop_requested is not None and stop_requested():
                raise StopRequested  # a stopped trial frees its worker now, not an epoch later
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                # stop now: a NaN never reaches an epoch report, the scheduler or a score
                where = f"loss became {float(loss)} at batch {batch + 1} of epoch {self.epoch + 1}"
                raise TrialFailure(Reason.NAN_LOSS, where, self._nan(where))
            if loss is not None:
                self.last_loss = float(loss)
            if state.epoch == 0:  # the first epoch: a trial too slow ends as soon as it shows
                elapsed = time.monotonic() - self.started
                steps = (self.params or {}).get("steps") or batch + 1
                self._check_time(elapsed, elapsed * steps / (batch + 1))

        def _check_time(self, seconds: float, projected: float | None = None) -> None:
            """``projected``: the whole epoch's training at this pace (what the sampler is
            told, so a model ten times too slow ranks below one just over)."""
            why = settings.limits.over_time(seconds, projected)
            if why is not None:
                raise ConstraintViolated(why, round(max(seconds, projected or 0.0), 4))

        def _nan(self, where: str) -> tuple[Finding, ...]:
            if monitor is None:
                return ()
            return monitor.nan(self.epoch + 1, where, getattr(self, "last_loss", None))

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            if not all(math.isfinite(v) for v in logs.values()):
                self.model.stop_training = True
                where = f"non-finite metrics at epoch {epoch + 1}: {logs}"
                raise TrialFailure(Reason.NAN_LOSS, where, self._nan(where))
            if stop_requested is not None and stop_requested():
                raise StopRequested
            metric = settings.objective.metric
            for needed in (metric, *settings.also_logged):  # every objective, from epoch 1
                if needed not in logs:
                    raise MissingObjective(needed, list(logs))
            value = logs[metric]
            seconds = round(time.monotonic() - self.started, 4)
            if state.epoch == 0:
                self._check_time(seconds)
            state.update(value, settings.objective, settings.min_delta, logs, seconds)
            findings: tuple[Finding, ...] = ()
            probe: dict[str, float] = {}
            if monitor is not None:
                findings = monitor.end_epoch(state.epoch, logs)
                probe = monitor.probe_summary()
                state.diagnosis = monitor.state()
            status, reason = Status.RUNNING, Reason.NONE
            if state.epoch >= settings.max_epochs:
                status = Status.COMPLETED
                self.model.stop_training = True  # also a HyperModel.fit that asked for more
            elif monitor is not None and monitor.should_stop:
                status, reason = Status.PRUNED, Reason.DIAGNOSIS  # it cannot come good
                self.model.stop_training = True
            elif settings.patience is not None and state.wait >= settings.patience:
                status = Status.STOPPED_EARLY
                self.model.stop_training = True
            optimizer = self.model.optimizer
            result = replace(
                base, epoch=state.epoch, status=status, reason=reason, objective=value,
                best_objective=state.best, best_epoch=state.best_epoch, metrics=logs,
                lr=float(keras.ops.convert_to_numpy(optimizer.learning_rate)),
                epoch_seconds=seconds, best_metrics=dict(state.best_metrics),
                mean_epoch_seconds=state.mean_epoch_seconds,
                first_epoch_seconds=state.first_epoch_seconds,
                validation_seconds=self.validation_seconds,
                optimizer_iterations=int(optimizer.iterations.numpy()),
                resumed_from_epoch=resumed_from if self.first else None,
                resumed_iterations=self.start_iterations if self.first else None,
                rss_mb=resident_mb(), findings=findings, probe=probe)
            self.first = False
            sink(result, self.model)

    return EpochLoop()


def fit(model: keras.Model, data: Dataset, params: dict[str, Any], seed: int,
        settings: LoopSettings, state: EarlyStoppingState, base: TrialResult, sink: EpochSink,
        resumed_from: int | None = None, verbose: int = 0,
        stop_requested: StopCheck | None = None, fitter: Fitter | None = None) -> None:
    """Train from ``state.epoch`` to at most ``settings.max_epochs``, one sink call per epoch.

    Labels are one-hot when the model's loss is categorical cross-entropy, class indices
    otherwise. ``fitter``: the model kind's own training call (a KerasTuner HyperModel's
    overridden fit, ``models.kinds.fitter``), used instead of ``model.fit`` on the pipeline.

    Raises TrialFailure (NaN, a missing objective metric) and StopRequested (once
    ``stop_requested`` says so, checked after every batch, as the loss is); other errors
    propagate."""
    size = batch_size(params)
    one_hot = one_hot_classes(model, data.num_classes)
    monitor = _monitor(settings, data, params, seed, state, one_hot)
    callback = _epoch_callback(settings, state, base, sink, resumed_from, stop_requested,
                               monitor)
    if fitter is not None:
        _fit_with(fitter, model, data, settings, state, callback, verbose, one_hot)
        return
    model.fit(
        pipeline(data.x_train, data.y_train, size, training=True, seed=seed + state.epoch,
                 one_hot=one_hot),
        validation_data=pipeline(data.x_val, data.y_val, size, training=False, seed=seed,
                                 one_hot=one_hot),
        epochs=settings.max_epochs, initial_epoch=state.epoch, shuffle=False,  # the pipeline
        verbose=verbose, callbacks=[callback])


def _fit_with(fitter: Fitter, model: keras.Model, data: Dataset, settings: LoopSettings,
              state: EarlyStoppingState, callback: Any, verbose: int,
              one_hot: int | None) -> None:
    """The kind's own fit, called as KerasTuner calls ``HyperModel.fit``, on NumPy arrays
    (Keras takes a ``batch_size`` the fit sets only with arrays; the fit may shuffle and
    augment as it likes)."""
    started = state.epoch
    fitter(model, data.x_train.astype(np.float32), encode_labels(data.y_train, one_hot),
           validation_data=(data.x_val.astype(np.float32), encode_labels(data.y_val, one_hot)),
           epochs=settings.max_epochs, initial_epoch=state.epoch, callbacks=[callback],
           verbose=verbose)
    if state.epoch == started < settings.max_epochs:
        raise TrialFailure(Reason.ERROR, "the HyperModel's fit(hp, model, *args, **kwargs) "
                           "returned without training an epoch with the callbacks it was "
                           "given: pass its arguments on to model.fit(*args, **kwargs)")


# the built-in CNN's augmentation strength from which over-augmentation is looked for
_AUGMENTATION = "augmentation"


def _monitor(settings: LoopSettings, data: Dataset, params: dict[str, Any], seed: int,
             state: EarlyStoppingState, one_hot: int | None = None) -> DiagnosisMonitor | None:
    """The trial's diagnosis, probing a fixed random batch of the training split."""
    if settings.diagnosis is None:
        return None
    examples = min(PROBE_EXAMPLES, batch_size(params))  # no more memory than a training step
    picked = np.random.default_rng(seed).permutation(len(data.x_train))[:examples]
    strength = params.get(_AUGMENTATION)
    strong = (float(strength) >= settings.diagnosis.thresholds.augment_strength
              if isinstance(strength, int | float) and not isinstance(strength, bool) else None)
    return DiagnosisMonitor(settings.diagnosis, data.num_classes, data.x_train[picked],
                            encode_labels(data.y_train[picked], one_hot), strong,
                            state.diagnosis or None)
