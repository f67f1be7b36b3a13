"""Train one fixed configuration: what ``sweeper train`` runs on an exported best config."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sweeper.config.loaded import LoadedSpec
from sweeper.config.params import FixedParam
from sweeper.data.dataset import load_dataset
from sweeper.data.pipeline import pipeline
from sweeper.errors import SpecError, SweepFailed, UserInputError
from sweeper.findings import Finding, merge
from sweeper.models.compile import batch_size
from sweeper.models.kinds import fitter, resolve_kind
from sweeper.models.labels import one_hot_classes
from sweeper.models.limits import Limits
from sweeper.notify import LogNotifier, Notifier
from sweeper.result import TrialResult
from sweeper.status import Reason, Status
from sweeper.trial.holdout import evaluate_on_test
from sweeper.trial.loop import EarlyStoppingState, LoopSettings, MissingObjective, TrialFailure, fit
from sweeper.trial.trainable import input_info

__all__ = ["MODEL_SUFFIXES", "SeedsSummary", "TrainResult", "check_output", "require_fixed",
           "train", "train_seeds"]

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")  # what keras.Model.save writes (.keras: its own)


@dataclass
class TrainResult:
    """What one training run reached, as written to ``train.json``."""

    objective_metric: str
    objective: float
    best_epoch: int
    epochs_run: int
    metrics: dict[str, float]
    seed: int
    params: dict[str, Any]
    data_fingerprint: str
    model_path: str
    seconds: float
    test_metrics: dict[str, float] = field(default_factory=dict)
    test_images: int = 0
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch, as in a sweep
    findings: list[dict[str, Any]] = field(default_factory=list)  # the diagnosis, per code


def require_fixed(loaded: LoadedSpec) -> dict[str, Any]:
    """The parameter values of a file whose every parameter is fixed."""
    for name, param in loaded.spec.space.items():
        if not isinstance(param, FixedParam):
            raise SpecError([loaded.problem(
                ("space", name),
                f"space.{name}: `sweeper train` needs every parameter fixed, but '{name}' is "
                "searched; write a single value, or train the best config of a sweep "
                "(`sweeper export NAME -o best.yaml`, then `sweeper train best.yaml`)", key=True)])
        if param.when:
            raise SpecError([loaded.problem(
                ("space", name, "when"),
                f"space.{name}: a fixed config has no conditions; remove 'when'")])
    return loaded.spec.fixed_params()


def check_output(output: Path) -> None:
    """A model file Keras can save, checked before anything trains (Keras itself only says so
    after the last epoch)."""
    if output.suffix not in MODEL_SUFFIXES:  # as Keras compares: case-sensitively
        raise UserInputError(
            f"--output {output}: a model file must end in .keras (Keras saves a model only "
            f"as NAME.keras, or legacy NAME.h5); try --output {output.with_suffix('.keras')} "
            "(nothing was trained)")


def train(loaded: LoadedSpec, *, epochs: int | None, output: Path, seed: int,
          verbose: bool = True, notifier: Notifier | None = None) -> TrainResult:
    """A sweep's trial with one fixed configuration: the same loop (early stopping, NaN
    guard, best-epoch rule); the best epoch's weights are the ones saved."""
    check_output(output)
    notifier = notifier or LogNotifier()
    params = require_fixed(loaded)
    kind = resolve_kind(loaded)
    spec = loaded.spec
    dataset = load_dataset(loaded)
    info = input_info(dataset, spec.data.flip)
    why = kind.describe(params, info).infeasible
    if why:
        raise SpecError([loaded.problem(("space",), f"space: infeasible architecture: {why}",
                                        key=True)])
    for warning in dataset.warnings:
        notifier.warn(warning)
    notifier.note(dataset.split_note)
    recorded = (spec.provenance or {}).get("data_fingerprint")
    if recorded and recorded != dataset.fingerprint():
        notifier.warn(f"the data differs from the data the sweep trained on (fingerprint "
                      f"{dataset.fingerprint()}, recorded {recorded}): scores may not compare")

    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = kind.build(params, info)
    # a fixed configuration trains as given: findings and constraints are reported, not applied
    settings = replace(LoopSettings.of(spec, epochs, prune=False), limits=Limits())
    state = EarlyStoppingState()
    best = _BestWeights()
    base = TrialResult(number=0, seed=seed, epoch=0, status=Status.RUNNING,
                       param_count=int(model.count_params()))
    started = time.monotonic()
    try:
        fit(model, dataset, params, seed, settings, state, base, best.keep,
            verbose=2 if verbose else 0, fitter=fitter(kind, params))
    except MissingObjective as missing:
        raise SweepFailed(f"the model never logged objective.metric {missing.metric!r}; it "
                          f"logged: {', '.join(missing.logged)}") from None
    except TrialFailure as failure:
        if failure.reason == Reason.NAN_LOSS:
            seen = [f"{f.code} ({f.message})" for f in merge([*best.findings, *failure.findings])]
            raise SweepFailed("training diverged: the loss became NaN or infinite; lower the "
                              "learning rate or add batch normalization"
                              + (f"; diagnosis: {'; '.join(seen)}" if seen else "")) from None
        raise
    if state.best is None:
        raise SweepFailed("training ran no epoch")
    if spec.early_stopping.restore_best_weights and best.weights is not None:
        model.set_weights(best.weights)
    evaluation = model.evaluate(
        pipeline(dataset.x_val, dataset.y_val, batch_size(params), training=False, seed=seed,
                 one_hot=one_hot_classes(model, dataset.num_classes)),
        verbose=0, return_dict=True)
    metrics = {f"val_{k}": float(v) for k, v in evaluation.items()}
    test_metrics = evaluate_on_test(model, dataset)
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    result = TrainResult(
        objective_metric=settings.objective.metric,
        objective=float(state.best),
        best_epoch=state.best_epoch,
        epochs_run=state.epoch,
        metrics=metrics,
        seed=seed,
        params=params,
        data_fingerprint=dataset.fingerprint(),
        model_path=str(output),
        seconds=round(time.monotonic() - started, 2),
        test_metrics=test_metrics,
        test_images=dataset.test_images,
        history=best.history,
        findings=[f.to_json() for f in merge(best.findings)],
    )
    output.with_suffix(".json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


class _BestWeights:
    """The loop's sink in ``sweeper train``: every epoch's record, the best epoch's weights."""

    def __init__(self) -> None:
        self.weights: list[Any] | None = None
        self.history: list[dict[str, float]] = []
        self.findings: list[Finding] = []

    def keep(self, result: TrialResult, model: Any) -> None:
        self.history.append(result.epoch_metrics())
        self.findings.extend(result.findings)
        if result.best_epoch == result.epoch:
            self.weights = model.get_weights()


@dataclass
class SeedsSummary:
    """The same configuration trained with several seeds: was the winner luck?"""

    metric: str
    results: list[TrainResult]

    @property
    def values(self) -> list[float]:
        return [r.objective for r in self.results]

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def std(self) -> float:
        mean = self.mean
        return math.sqrt(sum((v - mean) ** 2 for v in self.values) / len(self.values))


def train_seeds(loaded: LoadedSpec, *, epochs: int | None, output: Path, first_seed: int,
                count: int, verbose: bool = True,
                notifier: Notifier | None = None) -> SeedsSummary:
    """Train ``count`` times (seeds first_seed, first_seed+1, ...); the first model is kept at
    ``output``, the others beside it as ``NAME-seedS.keras``."""
    check_output(output)
    results = []
    for index in range(count):
        seed = first_seed + index
        path = output if index == 0 else output.with_name(
            f"{output.stem}-seed{seed}{output.suffix}")
        results.append(train(loaded, epochs=epochs, output=path, seed=seed, verbose=verbose,
                             notifier=notifier))
    summary = SeedsSummary(loaded.spec.primary.metric, results)
    output.with_suffix(".seeds.json").write_text(json.dumps(
        {"metric": summary.metric, "mean": summary.mean, "std": summary.std,
         "runs": [asdict(r) for r in results]}, indent=2) + "\n")
    return summary
