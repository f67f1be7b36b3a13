"""Detectors on a probe reading: gradients, activations and the first layer's input, as
measured on one fixed training batch (``probe``). No TensorFlow here.

What a model lets the probe see: gradients for every model (they need only the model's
call and its trainable variables); activations and the first layer's input only for
functional and Sequential models, whose layers' outputs are graph tensors. A subclassed
model's layers are called inside its own ``call``, so ``dead_relu`` and
``unnormalized_input`` do not apply to it (``ProbeReading`` leaves them None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sweeper.diagnosis.thresholds import Thresholds
from sweeper.findings import Code, Finding, Severity

__all__ = ["ProbeReading", "reading_findings"]


@dataclass(frozen=True)
class ProbeReading:
    """One probe: the batch's loss, gradient norms, dead units, the first layer's input."""

    step: int  # training steps done before the probe
    loss: float
    grad_norm: float  # global L2 norm of every trainable variable's gradient
    first_kernel_rms: float | None = None  # RMS gradient of the first kernel, of the last
    last_kernel_rms: float | None = None
    largest_layer: str = ""  # the layer with the largest gradient norm
    largest_layer_norm: float = 0.0
    relu_units: int | None = None  # None: activations cannot be probed (subclassed model)
    dead_units: int = 0
    layer_dead: dict[str, tuple[int, int]] = field(default_factory=dict)  # layer: (dead, all)
    input_mean: float | None = None  # of the first layer with a kernel (None: not probed)
    input_std: float | None = None

    @property
    def dead_share(self) -> float | None:
        return None if not self.relu_units else self.dead_units / self.relu_units

    def summary(self) -> dict[str, float]:
        """The numbers logged per epoch (history.csv and MLflow, prefixed ``probe_``)."""
        values = {"loss": self.loss, "grad_norm": self.grad_norm,
                  "first_to_last_grad": self.kernel_ratio, "dead_relu_share": self.dead_share,
                  "input_mean": self.input_mean, "input_std": self.input_std}
        return {f"probe_{k}": float(v) for k, v in values.items()
                if v is not None and math.isfinite(v)}

    @property
    def kernel_ratio(self) -> float | None:
        first, last = self.first_kernel_rms, self.last_kernel_rms
        if first is None or last is None or not last > 0:
            return None
        return first / last


def reading_findings(reading: ProbeReading, first: ProbeReading | None, epoch: int,
                     chance_loss: float, t: Thresholds) -> list[Finding]:
    """What one probe says; ``first``: the trial's first reading (the start). A probe
    whose loss is not a number says nothing: the NaN check ends the trial (nan_loss)."""
    if not math.isfinite(reading.loss):
        return []
    found = [_diverging(reading, first, epoch, t), _exploding(reading, first, epoch, t),
             _vanishing(reading, epoch, chance_loss, t), _dead(reading, epoch, t),
             _input(reading, epoch, t)]
    return [f for f in found if f is not None]


def _diverging(r: ProbeReading, first: ProbeReading | None, epoch: int,
               t: Thresholds) -> Finding | None:
    if first is None or first is r:
        return None
    start = first.loss
    if math.isfinite(r.loss) and (r.loss <= start * t.diverge_factor
                                  or r.loss <= start + t.diverge_margin):
        return None
    return Finding(Code.DIVERGING, Severity.SEVERE, epoch,
                   {"probe_loss": r.loss, "start_loss": start, "step": float(r.step)},
                   f"the probe batch's loss is {r.loss:.3g} at step {r.step}, "
                   f"{start:.3g} at the start")


def _exploding(r: ProbeReading, first: ProbeReading | None, epoch: int,
               t: Thresholds) -> Finding | None:
    norm = r.grad_norm
    grown = (first is not None and first is not r and first.grad_norm > 0
             and norm >= t.growth_floor and norm >= first.grad_norm * t.explode_growth)
    if math.isfinite(norm) and norm < t.explode_warn and not grown:
        return None
    severity = (Severity.SEVERE if not math.isfinite(norm) or norm >= t.explode_severe
                else Severity.WARNING)
    evidence = {"grad_norm": norm, "step": float(r.step),
                "largest_layer_norm": r.largest_layer_norm}
    if first is not None:
        evidence["start_grad_norm"] = first.grad_norm
    return Finding(Code.EXPLODING_GRADIENTS, severity, epoch, evidence,
                   f"gradient norm {norm:.3g} at step {r.step} (largest in layer "
                   f"{r.largest_layer or '?'}: {r.largest_layer_norm:.3g})")


def _vanishing(r: ProbeReading, epoch: int, chance_loss: float,
               t: Thresholds) -> Finding | None:
    still_high = r.loss >= 0.5 * chance_loss
    ratio = r.kernel_ratio
    if still_high and r.grad_norm < t.vanish_global:
        return Finding(Code.VANISHING_GRADIENTS, Severity.SEVERE, epoch,
                       {"grad_norm": r.grad_norm, "loss": r.loss, "step": float(r.step)},
                       f"gradient norm {r.grad_norm:.3g} at step {r.step} while the loss is "
                       f"still {r.loss:.3g}")
    if ratio is None or ratio >= t.vanish_warn or not still_high:
        return None
    severity = Severity.SEVERE if ratio < t.vanish_severe else Severity.WARNING
    return Finding(Code.VANISHING_GRADIENTS, severity, epoch,
                   {"first_to_last": ratio, "first_kernel_rms": r.first_kernel_rms or 0.0,
                    "last_kernel_rms": r.last_kernel_rms or 0.0, "step": float(r.step)},
                   f"the first layer's gradient is {ratio:.2g}x the last layer's at step "
                   f"{r.step}")


def _dead(r: ProbeReading, epoch: int, t: Thresholds) -> Finding | None:
    share = r.dead_share
    if share is None:
        return None
    worst = max(((name, dead / units, units) for name, (dead, units) in r.layer_dead.items()
                 if units >= t.dead_layer_units), key=lambda w: w[1], default=None)
    layer_dead = worst is not None and worst[1] >= t.dead_layer
    if share < t.dead_warn and not layer_dead:
        return None
    severity = Severity.SEVERE if share >= t.dead_severe else Severity.WARNING
    evidence = {"dead_share": share, "dead_units": float(r.dead_units),
                "relu_units": float(r.relu_units or 0), "step": float(r.step)}
    where = ""
    if worst is not None:
        evidence["worst_layer_share"] = worst[1]
        where = f"; layer {worst[0]}: {worst[1]:.0%} of {worst[2]}"
    return Finding(Code.DEAD_RELU, severity, epoch, evidence,
                   f"{share:.0%} of {r.relu_units} ReLU units never active on the probe batch "
                   f"at step {r.step}{where}")


def _input(r: ProbeReading, epoch: int, t: Thresholds) -> Finding | None:
    mean, std = r.input_mean, r.input_std
    if mean is None or std is None:
        return None
    if abs(mean) <= t.input_mean and t.input_std_low <= std <= t.input_std_high:
        return None
    return Finding(Code.UNNORMALIZED_INPUT, Severity.WARNING, epoch,
                   {"input_mean": mean, "input_std": std},
                   f"the first layer's input has mean {mean:.3g} and standard deviation "
                   f"{std:.3g} (expected about 0 and 1)")
