"""The detectors on hand-made curves and probe readings: each fires where its threshold
says and stays silent on curves of healthy training (the planted models are trained for
real in tests/integration/test_diagnosis.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sweeper.config.schema import SweepSpec
from sweeper.diagnosis import DiagnosisMonitor, DiagnosisSettings, Thresholds
from sweeper.diagnosis.curves import CurveContext, EpochRecord, curve_findings
from sweeper.diagnosis.readings import ProbeReading, reading_findings
from sweeper.findings import FIXES, Code, Finding, Severity, join_codes, merge, split_codes
from sweeper.pruning.decisions import DecisionLog, final_status
from sweeper.result import TrialResult
from sweeper.status import Reason, Status

T = Thresholds()
TEN = CurveContext(10)
LN10 = math.log(10)


def curve(*epochs: tuple[float, float | None, float | None, float | None]) -> list[EpochRecord]:
    """(loss, accuracy, val_loss, val_accuracy) per epoch."""
    return [EpochRecord(i + 1, loss, acc, vloss, vacc)
            for i, (loss, acc, vloss, vacc) in enumerate(epochs)]


def codes(findings: list[Finding] | tuple[Finding, ...]) -> dict[Code, Severity]:
    return {f.code: f.severity for f in findings}


HEALTHY_CURVES = {
    "fast": curve((1.3, 0.6, 0.5, 0.85), (0.3, 0.92, 0.2, 0.95), (0.12, 0.97, 0.09, 0.97),
                  (0.07, 0.98, 0.08, 0.98), (0.05, 0.99, 0.075, 0.981)),
    "slow start": curve((2.2, 0.2, 2.1, 0.35), (1.5, 0.55, 1.1, 0.7), (0.8, 0.8, 0.6, 0.85),
                        (0.5, 0.86, 0.4, 0.9)),
    "dropout, val above train": curve((1.7, 0.55, 0.5, 0.84), (0.56, 0.85, 0.28, 0.91),
                                      (0.24, 0.93, 0.11, 0.97)),
    "noisy plateau": curve((0.1, 0.97, 0.09, 0.97), (0.09, 0.975, 0.1, 0.968),
                           (0.085, 0.976, 0.095, 0.97), (0.08, 0.977, 0.097, 0.969)),
    "tiny loss wobbles": curve((0.004, 1.0, 0.04, 0.983), (0.008, 0.999, 0.05, 0.98),
                               (0.01, 0.999, 0.045, 0.982), (0.012, 0.998, 0.046, 0.981)),
}


@pytest.mark.parametrize("name", sorted(HEALTHY_CURVES))
def test_healthy_curves_raise_nothing(name: str) -> None:
    history = HEALTHY_CURVES[name]
    for end in range(1, len(history) + 1):
        assert curve_findings(history[:end], CurveContext(10, strong_augmentation=True)) == []


def test_a_loss_rising_three_epochs_above_its_start_is_severe_divergence() -> None:
    found = codes(curve_findings(curve((2.0, 0.3, 2.0, 0.3), (2.2, 0.2, 2.3, 0.2),
                                       (2.6, 0.1, 2.7, 0.1)), TEN))
    assert found[Code.DIVERGING] == Severity.SEVERE
    below_start = curve((2.0, 0.3, 2.0, 0.3), (0.6, 0.8, 0.7, 0.8), (0.8, 0.75, 0.9, 0.7),
                        (1.1, 0.65, 1.2, 0.6))
    assert codes(curve_findings(below_start, TEN))[Code.DIVERGING] == Severity.WARNING


def test_stalled_needs_two_epochs_near_chance_without_progress() -> None:
    one = curve((2.31, 0.1, 2.3, 0.1))
    assert curve_findings(one, TEN) == []
    two = curve((2.31, 0.1, 2.3, 0.1), (2.305, 0.11, 2.3, 0.1))
    finding = next(f for f in curve_findings(two, TEN) if f.code == Code.STALLED)
    assert finding.severe and finding.evidence["chance_loss"] == pytest.approx(LN10)
    progressing = curve((2.3, 0.12, 2.2, 0.14), (2.0, 0.14, 1.9, 0.15))
    assert Code.STALLED not in codes(curve_findings(progressing, TEN))


def test_validation_at_chance_while_training_learns() -> None:
    epochs = [(1.0, 0.7, 2.4, 0.1), (0.5, 0.85, 2.4, 0.11), (0.3, 0.9, 2.5, 0.1)]
    assert curve_findings(curve(*epochs[:1]), TEN) == []  # one epoch: may be settling
    assert codes(curve_findings(curve(*epochs[:2]), TEN)) == {
        Code.VAL_AT_CHANCE: Severity.WARNING}
    assert codes(curve_findings(curve(*epochs), TEN))[Code.VAL_AT_CHANCE] == Severity.SEVERE
    # without accuracies, the losses say it
    losses = [EpochRecord(i + 1, 0.3, None, 2.4, None) for i in range(3)]
    assert Code.VAL_AT_CHANCE in codes(curve_findings(losses, TEN))


def test_overfitting_is_validation_loss_up_from_its_best_while_training_fits() -> None:
    history = curve((0.5, 0.85, 0.4, 0.88), (0.2, 0.94, 0.25, 0.93), (0.1, 0.97, 0.33, 0.93),
                    (0.05, 0.99, 0.34, 0.93), (0.02, 1.0, 0.36, 0.92))
    found = next(f for f in curve_findings(history, TEN) if f.code == Code.OVERFITTING)
    assert found.severity == Severity.WARNING and found.evidence["best_epoch"] == 2
    # a bump that comes back near the best (noise on a small validation split): silent
    bump = curve((0.5, 0.85, 0.4, 0.88), (0.2, 0.94, 0.25, 0.93), (0.1, 0.97, 0.33, 0.93),
                 (0.05, 0.99, 0.34, 0.93), (0.02, 1.0, 0.3, 0.93))
    assert Code.OVERFITTING not in codes(curve_findings(bump, TEN))
    # validation loss rising while training does not fit (a stall): not overfitting
    stuck = curve((4.2, 0.09, 2.5, 0.15), (4.3, 0.1, 3.3, 0.1), (4.3, 0.07, 3.8, 0.09),
                  (4.26, 0.1, 3.9, 0.08))
    assert Code.OVERFITTING not in codes(curve_findings(stuck, TEN))


def test_over_augmentation_needs_strong_augmentation_and_a_wide_gap() -> None:
    history = curve((2.1, 0.3, 1.4, 0.84), (1.4, 0.52, 0.6, 0.8), (1.0, 0.65, 0.5, 0.82))
    assert Code.OVER_AUGMENTATION not in codes(curve_findings(history, TEN))
    strong = CurveContext(10, strong_augmentation=True)
    assert codes(curve_findings(history, strong))[Code.OVER_AUGMENTATION] == Severity.WARNING


def reading(**values: object) -> ProbeReading:
    base: dict[str, object] = {"step": 10, "loss": 1.5, "grad_norm": 3.0,
                               "first_kernel_rms": 0.3, "last_kernel_rms": 0.1,
                               "relu_units": 200, "dead_units": 10, "input_mean": 0.0,
                               "input_std": 1.0}
    return ProbeReading(**{**base, **values})  # type: ignore[arg-type]


def test_a_healthy_reading_raises_nothing() -> None:
    start = reading(step=0, loss=2.3)
    assert reading_findings(reading(), start, 1, LN10, T) == []
    assert reading_findings(start, start, 1, LN10, T) == []


@pytest.mark.parametrize(("values", "code", "severity"), [
    ({"grad_norm": 5e3}, Code.EXPLODING_GRADIENTS, Severity.WARNING),
    ({"grad_norm": 2e5}, Code.EXPLODING_GRADIENTS, Severity.SEVERE),
    ({"grad_norm": math.inf}, Code.EXPLODING_GRADIENTS, Severity.SEVERE),
    ({"first_kernel_rms": 1e-5, "last_kernel_rms": 0.1}, Code.VANISHING_GRADIENTS,
     Severity.WARNING),
    ({"first_kernel_rms": 1e-8, "last_kernel_rms": 0.1}, Code.VANISHING_GRADIENTS,
     Severity.SEVERE),
    ({"grad_norm": 1e-10, "first_kernel_rms": None}, Code.VANISHING_GRADIENTS,
     Severity.SEVERE),
    ({"dead_units": 120}, Code.DEAD_RELU, Severity.WARNING),
    ({"dead_units": 190}, Code.DEAD_RELU, Severity.SEVERE),
    ({"layer_dead": {"dense": (127, 128)}}, Code.DEAD_RELU, Severity.WARNING),
    ({"input_mean": 33.0, "input_std": 78.0}, Code.UNNORMALIZED_INPUT, Severity.WARNING),
    ({"input_std": 0.0}, Code.UNNORMALIZED_INPUT, Severity.WARNING),
    ({"loss": 9.0}, Code.DIVERGING, Severity.SEVERE),
])
def test_each_probe_detector_fires_past_its_threshold(values: dict[str, object], code: Code,
                                                      severity: Severity) -> None:
    found = codes(reading_findings(reading(**values), reading(step=0, loss=2.3), 1, LN10, T))
    assert found[code] == severity


def test_vanishing_is_not_said_of_a_model_that_has_learned() -> None:
    low_loss = reading(loss=0.01, first_kernel_rms=1e-8, grad_norm=1e-9)
    assert reading_findings(low_loss, reading(step=0), 3, LN10, T) == []


def test_a_subclassed_model_is_judged_on_its_gradients_only() -> None:
    """No activations or first-layer input: dead_relu and unnormalized_input do not apply."""
    blind = reading(relu_units=None, dead_units=0, input_mean=None, input_std=None)
    assert blind.dead_share is None
    assert reading_findings(blind, reading(step=0), 1, LN10, T) == []
    assert codes(reading_findings(reading(relu_units=None, input_mean=None, input_std=None,
                                          grad_norm=2e5), reading(step=0), 1, LN10, T)) == {
        Code.EXPLODING_GRADIENTS: Severity.SEVERE}


def test_a_probe_whose_loss_is_nan_leaves_the_verdict_to_the_nan_check() -> None:
    assert reading_findings(reading(loss=math.nan, grad_norm=math.nan), reading(step=0), 1,
                            LN10, T) == []


def test_merge_keeps_one_finding_per_code_the_most_severe() -> None:
    warn = Finding(Code.DEAD_RELU, Severity.WARNING, 1, {"dead_share": 0.6})
    severe = Finding(Code.DEAD_RELU, Severity.SEVERE, 2, {"dead_share": 0.95})
    later = Finding(Code.DEAD_RELU, Severity.WARNING, 3, {"dead_share": 0.7})
    other = Finding(Code.OVERFITTING, Severity.WARNING, 3)
    assert merge([warn, other, severe, later]) == (severe, other)


def test_findings_travel_through_tune_and_the_tables() -> None:
    finding = Finding(Code.EXPLODING_GRADIENTS, Severity.SEVERE, 2, {"grad_norm": 1e6}, "big")
    result = TrialResult(number=3, seed=1, epoch=2, status=Status.PRUNED,
                         reason=Reason.DIAGNOSIS, objective=0.4, best_objective=0.5,
                         findings=(finding,), probe={"probe_grad_norm": 1e6})
    back = TrialResult.from_tune(result.to_tune())
    assert back == result
    assert back.history_row()["findings"] == "exploding_gradients"
    assert back.epoch_metrics()["probe_grad_norm"] == 1e6
    assert finding.to_json()["fix"] == FIXES[Code.EXPLODING_GRADIENTS]
    assert split_codes(join_codes([Code.STALLED, Code.DEAD_RELU, Code.STALLED])) == [
        Code.STALLED, Code.DEAD_RELU]
    assert split_codes("") == [] and split_codes(float("nan")) == []


def test_a_trial_that_pruned_itself_ends_pruned_with_its_reason(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "decisions.jsonl")
    result = TrialResult(number=0, seed=0, epoch=1, status=Status.PRUNED,
                         reason=Reason.DIAGNOSIS, objective=0.1, best_objective=0.1)
    assert final_status(log, "t1", result) == (Status.PRUNED, Reason.DIAGNOSIS)


def test_the_monitor_keeps_its_curves_across_a_restart() -> None:
    import numpy as np

    settings = DiagnosisSettings()
    monitor = DiagnosisMonitor(settings, 10, np.zeros((2, 8, 8, 1)), np.zeros(2), False)
    for loss in (2.31, 2.305):
        found = monitor.end_epoch(len(monitor.history) + 1, {"loss": loss, "accuracy": 0.1})
    assert Code.STALLED in codes(found) and monitor.should_stop
    restarted = DiagnosisMonitor(settings, 10, np.zeros((2, 8, 8, 1)), np.zeros(2), False,
                                 monitor.state())
    assert restarted.history == monitor.history
    ignoring = DiagnosisMonitor(DiagnosisSettings(ignore=frozenset({Code.STALLED})), 10,
                                np.zeros((2, 8, 8, 1)), np.zeros(2), False, monitor.state())
    assert Code.STALLED not in codes(ignoring.end_epoch(3, {"loss": 2.30, "accuracy": 0.1}))
    assert not ignoring.should_stop


def test_probes_run_early_then_every_k_steps_and_at_least_once_an_epoch() -> None:
    settings = DiagnosisSettings(probe_every=100)
    assert [s for s in range(401) if settings.probes_at(s, 1000)] == [0, 10, 100, 200, 300, 400]
    assert [s for s in range(70) if settings.probes_at(s, 23)] == [0, 10, 23, 46, 69]


def test_the_file_names_codes_to_ignore_and_refuses_unknown_ones() -> None:
    spec = SweepSpec(name="d", diagnosis={"ignore": ["overfitting"], "prune": False})
    assert spec.diagnosis.ignore == [Code.OVERFITTING] and not spec.diagnosis.prune
    with pytest.raises(ValueError, match="overfitting"):
        SweepSpec(name="d", diagnosis={"ignore": ["overfit"]})


def test_a_pruned_trial_restarted_from_its_checkpoint_stays_ended() -> None:
    """Its last checkpoint holds the stop: a retry (a lost worker) must not train on."""
    import numpy as np

    from sweeper.objective import Objective
    from sweeper.trial.loop import EarlyStoppingState, LoopSettings

    monitor = DiagnosisMonitor(DiagnosisSettings(), 10, np.zeros((2, 8, 8, 1)), np.zeros(2),
                               False)
    for loss in (2.31, 2.305):
        monitor.end_epoch(len(monitor.history) + 1, {"loss": loss, "accuracy": 0.1})
    state = EarlyStoppingState(epoch=2, diagnosis=monitor.state())
    settings = LoopSettings(Objective.of("val_accuracy", "max"), 10, None, 0.0,
                            DiagnosisSettings())
    assert state.ended(settings)
    assert not state.ended(LoopSettings(Objective.of("val_accuracy", "max"), 10, None, 0.0,
                                        DiagnosisSettings(prune=False)))
    assert not EarlyStoppingState(epoch=2).ended(settings)


def test_chance_is_judged_relative_to_the_classes() -> None:
    """0.72 of 2 classes is learning, not chance; 0.14 of 10 is chance."""
    binary = CurveContext(2)
    assert not binary.near_chance_accuracy(0.72) and binary.near_chance_accuracy(0.52)
    slow_binary_start = curve((0.68, 0.58, 0.67, 0.6), (0.67, 0.6, 0.66, 0.61))
    assert curve_findings(slow_binary_start, binary) == []
    assert TEN.near_chance_accuracy(0.14) and not TEN.near_chance_accuracy(0.2)


def test_evidence_that_is_not_a_number_stays_strict_json() -> None:
    import json

    finding = Finding(Code.EXPLODING_GRADIENTS, Severity.SEVERE, 1, {"grad_norm": math.inf})
    text = json.dumps(finding.to_json(), allow_nan=False)
    assert Finding.from_json(json.loads(text)).evidence["grad_norm"] == math.inf
