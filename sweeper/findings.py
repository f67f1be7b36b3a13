"""What a diagnosis can say about a trial: the codes, how severe each is, and the fix.

The bottom layer (beside ``result``): the trial loop writes findings, the tables, MLflow, the
search-space file (``diagnosis.ignore``) and ``sweeper doctor`` read them, and none of them
needs TensorFlow to do so. The detectors themselves live in ``sweeper.diagnosis``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["FIXES", "SEPARATOR", "Code", "Finding", "Severity", "join_codes", "merge",
           "split_codes"]

SEPARATOR = ";"  # codes in one cell of trials.csv (``diagnosis``) and history.csv (``findings``)


class Code(StrEnum):
    """Why a CNN does not learn (or learns the wrong thing), as a detector names it."""

    NAN_LOSS = "nan_loss"
    DIVERGING = "diverging"
    EXPLODING_GRADIENTS = "exploding_gradients"
    VANISHING_GRADIENTS = "vanishing_gradients"
    DEAD_RELU = "dead_relu"
    STALLED = "stalled"
    VAL_AT_CHANCE = "val_at_chance"
    OVERFITTING = "overfitting"
    UNNORMALIZED_INPUT = "unnormalized_input"
    OVER_AUGMENTATION = "over_augmentation"


class Severity(StrEnum):
    """SEVERE: the trial cannot come good, so diagnosis pruning stops it at once.
    WARNING: recorded and reported; the trial goes on (it may still be the best)."""

    WARNING = "warning"
    SEVERE = "severe"


# The fix the seed articles give for each problem (README's table says the same).
FIXES: dict[Code, str] = {
    Code.NAN_LOSS: "lower the learning rate (10x), add batch normalization, clip gradients "
                   "(clipnorm=1.0), check the input for NaN or unscaled pixels",
    Code.DIVERGING: "lower the learning rate (the loss overshoots); with sgd lower momentum or "
                    "use adam; add batch normalization",
    Code.EXPLODING_GRADIENTS: "lower the learning rate, add batch normalization, clip "
                              "gradients (clipnorm=1.0), use He initialization and scaled inputs",
    Code.VANISHING_GRADIENTS: "use relu-family activations instead of sigmoid/tanh, add batch "
                              "normalization or residual shortcuts, use fewer layers or He "
                              "initialization",
    Code.DEAD_RELU: "lower the learning rate, use leaky_relu/elu/gelu, add batch normalization "
                    "before the activation, check the bias initialization",
    Code.STALLED: "raise the learning rate (it crawls) or lower it (it overshot into a flat "
                  "region); scale the inputs; check that the labels match the images",
    Code.VAL_AT_CHANCE: "batch-norm moving statistics have not settled: lower "
                        "batch_norm_momentum (0.9) or train longer; make validation "
                        "preprocessing match training's (same scaling, no leak)",
    Code.OVERFITTING: "add augmentation or dropout, weight decay, a smaller model, or stop "
                      "earlier (early_stopping.patience)",
    Code.UNNORMALIZED_INPUT: "scale the input to zero mean and unit variance (a Normalization "
                             "or Rescaling(1/255) layer first in the model)",
    Code.OVER_AUGMENTATION: "lower the augmentation strength (rotation, shift, zoom): the "
                            "training images no longer look like the validation images",
}


@dataclass(frozen=True)
class Finding:
    """One problem a detector saw: its code, how severe, when, and the numbers that show it."""

    code: Code
    severity: Severity
    epoch: int  # the epoch it was seen in (1-based; a probe's finding: the epoch under way)
    evidence: dict[str, float] = field(default_factory=dict)
    message: str = ""  # the evidence in words, e.g. "loss 4.1 at epoch 3, 2.3 at epoch 1"

    @property
    def severe(self) -> bool:
        return self.severity == Severity.SEVERE

    @property
    def fix(self) -> str:
        return FIXES[self.code]

    def to_json(self) -> dict[str, Any]:
        # strict JSON (diagnosis.json is read by the MLflow UI): a non-finite number as text
        evidence = {k: v if math.isfinite(v) else str(v) for k, v in self.evidence.items()}
        return {"code": self.code.value, "severity": self.severity.value, "epoch": self.epoch,
                "evidence": evidence, "message": self.message, "fix": self.fix}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Finding:
        return cls(Code(raw["code"]), Severity(raw["severity"]), int(raw.get("epoch", 0)),
                   {str(k): float(v) for k, v in (raw.get("evidence") or {}).items()},
                   str(raw.get("message", "")))


def merge(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """One finding per code, in first-seen order: its first severe sighting, else its first."""
    kept: dict[Code, Finding] = {}
    for finding in findings:
        old = kept.get(finding.code)
        if old is None or (finding.severe and not old.severe):
            kept[finding.code] = finding
    return tuple(kept.values())


def join_codes(codes: list[Code] | tuple[Code, ...]) -> str:
    """Codes for one cell, each once, in the order first seen ('' when healthy)."""
    return SEPARATOR.join(dict.fromkeys(c.value for c in codes))


def split_codes(cell: Any) -> list[Code]:
    """A cell of ``diagnosis``/``findings`` back as codes (empty or missing: none)."""
    if not isinstance(cell, str) or not cell.strip():
        return []
    return [Code(part) for part in cell.split(SEPARATOR) if part.strip()]
