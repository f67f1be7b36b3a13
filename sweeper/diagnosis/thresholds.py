"""Every number a detector compares against, in one place (README's table quotes them).

Chosen before tuning on what the seed articles call healthy and broken, then checked on
``benchmarks/diagnosis.py``'s planted faults and healthy set: a healthy model must never
reach a SEVERE threshold, since that would prune a good trial.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Thresholds"]


@dataclass(frozen=True)
class Thresholds:
    """Defaults of every detector."""

    # diverging: the probe batch's loss far above its first reading, or the training loss
    # rising epoch after epoch
    diverge_factor: float = 3.0  # probe loss > factor x the first probe's loss ...
    diverge_margin: float = 2.0  # ... and > first + margin (nats)
    rise_window: int = 3  # epochs of rising training loss
    rise_total: float = 0.10  # by at least 10% over the window
    rise_nats: float = 0.1  # and by at least 0.1 x ln(classes)
    # gradients, on the probe batch
    explode_warn: float = 1.0e3  # global gradient norm
    explode_severe: float = 1.0e5
    explode_growth: float = 1.0e3  # x the first probe's norm (with norm > growth_floor)
    growth_floor: float = 10.0
    vanish_warn: float = 1.0e-3  # RMS gradient of the first kernel / of the last kernel
    vanish_severe: float = 1.0e-5
    vanish_global: float = 1.0e-8  # global norm this small while the loss is still high
    # dead ReLUs, on the probe batch (units never above zero on any probe example)
    dead_warn: float = 0.5  # share of all ReLU units
    dead_severe: float = 0.9
    dead_layer: float = 0.95  # share of one layer's units (a layer of >= dead_layer_units)
    dead_layer_units: int = 8
    # near chance: a loss of at least this fraction of ln(classes), an accuracy at most
    # this share of the way from 1/classes to 1
    chance_loss: float = 0.9
    chance_margin: float = 0.05  # accuracy <= chance + 0.05 x (1 - chance)
    stall_epochs: int = 2  # epochs near chance, with under stall_progress improvement
    stall_progress: float = 0.02
    learns_margin: float = 0.3  # training "learns": accuracy >= chance + 0.3 x (1 - chance)
    chance_epochs: int = 2  # consecutive epochs of val_at_chance before it is reported
    chance_severe: int = 3  # ... and before it is severe
    # overfitting: validation loss up from its best while the train/validation gap grows
    overfit_rise: float = 0.25  # validation loss >= best x 1.25 ...
    overfit_window: int = 3  # ... for each of the last 3 epochs, all after the best
    overfit_gap: float = 1.5  # and the gap (val_loss - loss) >= 1.5 x the gap at the best
    # unnormalized input to the first layer with a kernel
    input_mean: float = 5.0  # |mean| above this
    input_std_high: float = 5.0
    input_std_low: float = 1.0e-3
    # over-augmentation: training accuracy this far below validation, for this many epochs
    augment_gap: float = 0.15
    augment_epochs: int = 2
    augment_strength: float = 0.5  # the built-in CNN's `augmentation` counted as strong
