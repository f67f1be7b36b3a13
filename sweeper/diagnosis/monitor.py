"""One trial's diagnosis: probes on the schedule, curve detectors each epoch, the findings
of each epoch, and whether one of them is severe enough to stop the trial.

Its state (the curves so far, the first probe) travels in the trial's checkpoint, so a
trial restarted on another worker judges its curves from epoch 1, not from the restart.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sweeper.diagnosis.curves import CurveContext, EpochRecord, curve_findings
from sweeper.diagnosis.readings import ProbeReading, reading_findings
from sweeper.diagnosis.thresholds import Thresholds
from sweeper.findings import Code, Finding, Severity, merge

if TYPE_CHECKING:
    import keras

    from sweeper.diagnosis.probe import Probe

__all__ = ["DiagnosisMonitor", "DiagnosisSettings"]

EARLY_PROBES = (0, 10)  # the start (diverging and exploding are judged against it), and soon


@dataclass(frozen=True)
class DiagnosisSettings:
    """The file's ``diagnosis`` section, as the trial loop uses it."""

    prune: bool = True
    ignore: frozenset[Code] = frozenset()
    probe_every: int = 100  # training steps between two probes, after EARLY_PROBES
    thresholds: Thresholds = field(default_factory=Thresholds)

    def probes_at(self, step: int, steps_per_epoch: int | None) -> bool:
        """At EARLY_PROBES, then every ``probe_every`` steps, and at least once an epoch."""
        every = min(self.probe_every, steps_per_epoch or self.probe_every)
        return step in EARLY_PROBES or (step > 0 and step % max(every, 1) == 0)


class DiagnosisMonitor:
    """Created per trial by the loop; ``before_batch``, ``end_epoch`` and ``nan`` are its
    three moments."""

    def __init__(self, settings: DiagnosisSettings, num_classes: int, probe_x: np.ndarray,
                 probe_y: np.ndarray, strong_augmentation: bool | None,
                 state: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.num_classes = num_classes
        self.probe_data = (probe_x, probe_y)
        self.strong_augmentation = strong_augmentation  # None: judged from the model
        self.history: list[EpochRecord] = []
        self.first: ProbeReading | None = None
        self.step = 0
        self.pending: list[Finding] = []  # probe findings of the epoch under way
        self.last: ProbeReading | None = None  # the latest probe
        self.seconds = 0.0  # spent by the diagnosis in the epoch under way (probes, detectors)
        self.stop: Finding | None = None  # the severe finding that should end the trial
        self._probe: Probe | None = None
        self._probe_failed = False
        if state:
            self._restore(state)

    # -- checkpoint state (JSON)
    def state(self) -> dict[str, Any]:
        first = None if self.first is None else {
            "step": self.first.step, "loss": self.first.loss, "grad_norm": self.first.grad_norm}
        return {"history": [asdict(r) for r in self.history], "first": first,
                "step": self.step, "stop": None if self.stop is None else self.stop.to_json()}

    def _restore(self, state: dict[str, Any]) -> None:
        self.history = [EpochRecord(**r) for r in state.get("history", [])]
        first = state.get("first")
        self.first = None if not first else ProbeReading(
            int(first["step"]), float(first["loss"]), float(first["grad_norm"]))
        self.step = int(state.get("step", 0))
        stop = state.get("stop")
        finding = None if not stop else Finding.from_json(stop)
        self.stop = None if finding is None or finding.code in self.settings.ignore else finding

    # -- the loop's moments
    def attach(self, model: keras.Model) -> None:
        from sweeper.diagnosis.probe import Probe

        if self.strong_augmentation is None:  # Keras's augmentation layers, nested ones too
            flatten = getattr(model, "_flatten_layers", None)
            layers = list(flatten(include_self=False)) if flatten else list(model.layers)
            self.strong_augmentation = any(type(layer).__name__.startswith("Random")
                                           for layer in layers)
        self._probe = Probe(model, *self.probe_data)

    def before_batch(self, epoch: int, steps_per_epoch: int | None = None) -> Finding | None:
        """Called before each training step (``epoch``: the one under way, 1-based);
        probes when due. Returns a severe finding that should stop the trial now."""
        step, self.step = self.step, self.step + 1
        if (self._probe is None or self._probe_failed
                or not self.settings.probes_at(step, steps_per_epoch)):
            return None
        started = time.perf_counter()
        try:
            reading = self._probe.measure(step)
        except Exception:  # a model the probe cannot run: the curve detectors still do
            self._probe_failed = True
            return None
        finally:
            self.seconds += time.perf_counter() - started
        if self.first is None and math.isfinite(reading.loss) \
                and math.isfinite(reading.grad_norm):
            self.first = reading  # the start every later probe is judged against
        self.last = reading
        chance_loss = float(np.log(max(self.num_classes, 2)))
        found = self._kept(reading_findings(reading, self.first, epoch, chance_loss,
                                            self.settings.thresholds))
        self.pending.extend(found)
        severe = next((f for f in found if f.severe), None)
        if severe is not None and self.stop is None:
            self.stop = severe
        return severe

    def end_epoch(self, epoch: int, logs: dict[str, float]) -> tuple[Finding, ...]:
        """The epoch's findings: its probes' and its curves'."""
        started = time.perf_counter()
        record = EpochRecord.of(epoch, logs)
        if record is not None:
            self.history.append(record)
        context = CurveContext(self.num_classes, bool(self.strong_augmentation),
                               self.settings.thresholds)
        found = merge([*self.pending, *self._kept(curve_findings(self.history, context))])
        self.pending = []
        if self.stop is None:
            self.stop = next((f for f in found if f.severe), None)
        self.seconds += time.perf_counter() - started
        return found

    def probe_summary(self) -> dict[str, float]:
        """The latest probe's numbers and the epoch's diagnosis time, logged with the epoch
        (the time starts again for the next epoch)."""
        summary = {} if self.last is None else self.last.summary()
        summary["probe_seconds"] = round(self.seconds, 4)
        self.seconds = 0.0
        return summary

    def nan(self, epoch: int, where: str, last_loss: float | None) -> tuple[Finding, ...]:
        """The findings a NaN loss ends the trial with (what the probes saw, then the NaN)."""
        evidence = {} if last_loss is None else {"loss": last_loss}
        nan = Finding(Code.NAN_LOSS, Severity.SEVERE, epoch, evidence, where)
        return merge([*self.pending, *self._kept([nan])])

    def _kept(self, found: list[Finding]) -> list[Finding]:
        return [f for f in found if f.code not in self.settings.ignore]

    @property
    def should_stop(self) -> bool:
        return self.settings.prune and self.stop is not None
