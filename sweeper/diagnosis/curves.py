"""Detectors on the learning curves: one record per epoch, no TensorFlow.

They apply to every model, subclassed ones included: they read only what Keras logs
(``loss``, an accuracy, and their ``val_`` twins).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise

from sweeper.diagnosis.thresholds import Thresholds
from sweeper.findings import Code, Finding, Severity

__all__ = ["ACCURACY_KEYS", "CurveContext", "EpochRecord", "curve_findings"]

# What Keras calls an accuracy in its logs, in the order looked for
ACCURACY_KEYS = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy",
                 "binary_accuracy")


@dataclass(frozen=True)
class EpochRecord:
    """One epoch as the detectors read it."""

    epoch: int
    loss: float
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None

    @classmethod
    def of(cls, epoch: int, logs: dict[str, float]) -> EpochRecord | None:
        """From Keras's epoch logs; None without a training loss."""
        loss = logs.get("loss")
        if loss is None or not math.isfinite(loss):
            return None
        accuracy = next((k for k in ACCURACY_KEYS if k in logs), None)
        return cls(epoch, float(loss), logs.get(accuracy) if accuracy else None,
                   logs.get("val_loss"), logs.get(f"val_{accuracy}") if accuracy else None)


@dataclass(frozen=True)
class CurveContext:
    """What a curve means depends on: how many classes, and whether augmentation is strong."""

    num_classes: int
    strong_augmentation: bool = False
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def chance(self) -> float:
        return 1.0 / max(self.num_classes, 2)

    @property
    def chance_loss(self) -> float:
        """ln(classes): the loss of a model that guesses uniformly."""
        return math.log(max(self.num_classes, 2))

    def near_chance_accuracy(self, value: float | None) -> bool:
        """Within ``chance_margin`` of the way from chance to 1 (0.145 for 10 classes,
        0.525 for 2): a margin relative to chance alone would call 0.72 of 2 classes
        chance."""
        margin = self.thresholds.chance_margin * (1 - self.chance)
        return value is not None and value <= self.chance + margin

    def learns(self, value: float | None) -> bool:
        margin = self.thresholds.learns_margin
        return value is not None and value >= self.chance + margin * (1 - self.chance)


def curve_findings(history: list[EpochRecord], context: CurveContext) -> list[Finding]:
    """What the curves say at the latest epoch of ``history`` (oldest first)."""
    if not history:
        return []
    found = [_diverging(history, context), _stalled(history, context),
             _val_at_chance(history, context), _overfitting(history, context),
             _over_augmentation(history, context)]
    return [f for f in found if f is not None]


def _diverging(history: list[EpochRecord], c: CurveContext) -> Finding | None:
    t = c.thresholds
    window = history[-t.rise_window:]
    if len(window) < t.rise_window:
        return None
    losses = [r.loss for r in window]
    rising = all(b > a for a, b in pairwise(losses))
    # a rise that matters: relative, and in nats (a loss near zero wobbles by ratios)
    if (not rising or losses[-1] < losses[0] * (1 + t.rise_total)
            or losses[-1] - losses[0] < t.rise_nats * c.chance_loss):
        return None
    first = history[0].loss
    severity = Severity.SEVERE if losses[-1] > first else Severity.WARNING
    return Finding(Code.DIVERGING, severity, window[-1].epoch,
                   {"loss": losses[-1], "window_start_loss": losses[0], "first_loss": first},
                   f"training loss rose {len(window) - 1} epochs in a row, "
                   f"{losses[0]:.3g} -> {losses[-1]:.3g} (epoch 1: {first:.3g})")


def _stalled(history: list[EpochRecord], c: CurveContext) -> Finding | None:
    t = c.thresholds
    window = history[-t.stall_epochs:]
    if len(window) < t.stall_epochs:
        return None
    near = all(r.loss >= t.chance_loss * c.chance_loss and
               (r.accuracy is None or c.near_chance_accuracy(r.accuracy)) for r in window)
    progress = (window[0].loss - window[-1].loss) / max(abs(window[0].loss), 1e-12)
    if not near or progress >= t.stall_progress:
        return None
    last = window[-1]
    evidence = {"loss": last.loss, "chance_loss": c.chance_loss, "progress": progress}
    if last.accuracy is not None:
        evidence["accuracy"] = last.accuracy
    return Finding(Code.STALLED, Severity.SEVERE, last.epoch, evidence,
                   f"loss {last.loss:.3g} near ln({c.num_classes}) = {c.chance_loss:.3g} for "
                   f"{len(window)} epochs, {progress:.1%} progress"
                   + (f", accuracy {last.accuracy:.3f}" if last.accuracy is not None else ""))


def _at_chance(record: EpochRecord, c: CurveContext) -> bool:
    """Training learns while validation sits at chance."""
    if record.accuracy is not None and record.val_accuracy is not None:
        return c.learns(record.accuracy) and c.near_chance_accuracy(record.val_accuracy)
    if record.val_loss is None:
        return False
    return (record.loss <= 0.5 * c.chance_loss
            and record.val_loss >= c.thresholds.chance_loss * c.chance_loss)


def _val_at_chance(history: list[EpochRecord], c: CurveContext) -> Finding | None:
    last = history[-1]
    if not _at_chance(last, c):
        return None
    run = 0
    for record in reversed(history):
        if not _at_chance(record, c):
            break
        run += 1
    if run < c.thresholds.chance_epochs:
        return None  # one epoch at chance: the moving statistics may still be settling
    severity = Severity.SEVERE if run >= c.thresholds.chance_severe else Severity.WARNING
    evidence = {"epochs": float(run), "loss": last.loss}
    for key, value in (("accuracy", last.accuracy), ("val_accuracy", last.val_accuracy),
                       ("val_loss", last.val_loss)):
        if value is not None:
            evidence[key] = value
    return Finding(Code.VAL_AT_CHANCE, severity, last.epoch, evidence,
                   f"training learns (accuracy {last.accuracy}, loss {last.loss:.3g}) while "
                   f"validation stays at chance (accuracy {last.val_accuracy}, loss "
                   f"{last.val_loss}) for {run} epoch(s)")


def _overfitting(history: list[EpochRecord], c: CurveContext) -> Finding | None:
    """Validation loss well above its best for ``overfit_window`` epochs after it, while the
    training loss went on falling and the gap between the two widened."""
    t = c.thresholds
    window = history[-t.overfit_window:]
    if len(window) < t.overfit_window or any(r.val_loss is None for r in history):
        return None
    before = history[:-t.overfit_window]
    if not before:
        return None
    best = min(before, key=lambda r: r.val_loss or 0.0)
    last = window[-1]
    assert best.val_loss is not None and last.val_loss is not None
    above = all((r.val_loss or 0.0) >= best.val_loss * (1 + t.overfit_rise) for r in window)
    gap_then, gap_now = best.val_loss - best.loss, last.val_loss - last.loss
    if (not above or last.loss >= best.loss or gap_now < gap_then * t.overfit_gap
            or min(r.val_loss or 0.0 for r in history) < best.val_loss):
        return None
    return Finding(Code.OVERFITTING, Severity.WARNING, last.epoch,
                   {"val_loss": last.val_loss, "best_val_loss": best.val_loss,
                    "best_epoch": float(best.epoch), "gap": gap_now, "gap_at_best": gap_then},
                   f"validation loss {last.val_loss:.3g}, up from {best.val_loss:.3g} at epoch "
                   f"{best.epoch} and above it for {len(window)} epochs, while the training "
                   f"loss fell to {last.loss:.3g}; gap {gap_then:.3g} -> {gap_now:.3g}")


def _over_augmentation(history: list[EpochRecord], c: CurveContext) -> Finding | None:
    t = c.thresholds
    window = history[-t.augment_epochs:]
    if not c.strong_augmentation or len(window) < t.augment_epochs:
        return None
    gaps = [r.val_accuracy - r.accuracy for r in window
            if r.val_accuracy is not None and r.accuracy is not None]
    if len(gaps) < len(window) or min(gaps) < t.augment_gap:
        return None
    last = window[-1]
    assert last.accuracy is not None and last.val_accuracy is not None
    return Finding(Code.OVER_AUGMENTATION, Severity.WARNING, last.epoch,
                   {"accuracy": last.accuracy, "val_accuracy": last.val_accuracy,
                    "gap": gaps[-1]},
                   f"training accuracy {last.accuracy:.3f} is {gaps[-1]:.3f} below validation "
                   f"{last.val_accuracy:.3f} for {len(window)} epochs, with strong augmentation")
