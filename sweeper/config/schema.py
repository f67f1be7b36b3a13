"""The search-space file's sections as pydantic models: what each key means, its default.

Structure only: rules relating fields live in ``rules``; what a model kind accepts in
``space`` is the kind's own business (``sweeper.models``), so no kind is named here.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    PositiveInt,
    StrictBool,
    StrictInt,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sweeper.config.params import FixedParam, Param, StrictModel
from sweeper.findings import Code
from sweeper.objective import COST_METRICS, Objective, Pick

__all__ = ["NAME_MAX_LENGTH", "NAME_PATTERN", "SECTION_MODELS", "BudgetSpec", "ConstraintsSpec",
           "DataSpec", "DiagnosisSpec", "EarlyStoppingSpec", "FailuresSpec", "ModelSpec",
           "ObjectiveSpec", "ResourcesSpec", "SchedulerSpec", "SearchSpec", "SweepSpec",
           "TrackingSpec", "parse_duration"]

NAME_MAX_LENGTH = 100  # a sweep name: a folder, an Optuna study, an MLflow experiment
NAME_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{NAME_MAX_LENGTH - 1}}}$"
# Sources whose images are digits: a horizontal flip turns a digit into another shape.
_DIGIT_SOURCES = ("digits", "mnist5k")


def parse_duration(value: Any) -> float | None:
    """Seconds from 90, '90s', '30m', '2h', '1h30m'."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 30m or 2h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*"
                             r"(?:(\d+(?:\.\d+)?)s)?\s*", str(value))
        if not match or not any(match.groups()):
            raise ValueError(f"expected a duration such as 90s, 30m, 2h or 1h30m, got {value!r}")
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if not math.isfinite(seconds):
        raise ValueError(f"expected a duration such as 90s, 30m or 2h, got {value!r}; for no "
                         "limit leave time_limit out (or write null)")
    if seconds <= 0:
        raise ValueError(f"a time limit must be above zero, got {value!r}")
    return seconds


Duration = Annotated[float | None, BeforeValidator(parse_duration)]


def _parse_interval(value: Any) -> Any:
    """A duration, or 0 (every time)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    return parse_duration(value)


Interval = Annotated[float, BeforeValidator(_parse_interval)]


class DataSpec(StrictModel):
    """Where the images come from and how they are split."""

    source: Literal["digits", "mnist5k", "directory", "npz"] = Field(
        default="mnist5k", description="digits (8x8, tests) | mnist5k | directory | npz")
    path: str | None = Field(
        default=None, description="folder (one sub-folder per class) or .npz file; relative "
        "paths are read from the search-space file's folder")
    image_size: tuple[PositiveInt, PositiveInt] | None = Field(
        default=None, description="[height, width] the model sees; null = the source's size "
        "(for folders: the most common size of the images, read from their headers)")
    channels: Literal[1, 3] | None = Field(
        default=None, description="1 or 3; null = from the data (1 when every image is gray)")
    validation_split: float = Field(default=0.2, gt=0.0, lt=1.0,
                                    description="fraction held out, stratified by class")
    test_split: float | None = Field(
        default=None, ge=0.0, lt=1.0,
        description="fraction held out from training and from every choice the sweep makes, "
        "to score the exported best model once; null = 0.1 for 2,000 images or more, else "
        "none; 0 = none")
    seed: StrictInt = Field(default=0, description="seed of the train/validation/test split")
    horizontal_flip: StrictBool | None = Field(
        default=None, description="flip in augmentation; null = off for digits/mnist5k")
    load_on: Literal["driver", "workers"] = Field(
        default="driver", description="driver: decoded once by the driver and shipped to "
        "each node through Ray's object store; workers: each trial process reads data.path "
        "itself (the same path on every node) and keeps it for its next trials")

    @property
    def flip(self) -> bool:
        """horizontal_flip as given, else on for every source but digits."""
        if self.horizontal_flip is not None:
            return self.horizontal_flip
        return self.source not in _DIGIT_SOURCES

    @model_validator(mode="after")
    def _path_needed(self) -> DataSpec:
        if self.source in ("directory", "npz") and not self.path:
            raise ValueError(f"data.source '{self.source}' needs data.path")
        return self

    @field_validator("test_split")
    @classmethod
    def _leaves_training_images(cls, value: float | None, info: ValidationInfo) -> float | None:
        validation = info.data.get("validation_split")
        if value and validation is not None and validation + value >= 0.95:
            raise ValueError(
                f"validation_split {validation} and test_split {value} leave under 5% of the "
                "images to train on; lower one of them (together they must stay under 0.95)")
        return value


class ModelSpec(StrictModel):
    kind: str = Field(default="cnn", description="cnn (built in), a keras.applications "
                      "backbone (resnet50v2, mobilenet_v2, ...), or package.module:function "
                      "(your builder, or a KerasTuner build(hp) / HyperModel); each kind checks "
                      "its own parameters (sweeper.models)")
    weights: str | None = Field(
        default=None, description="local weights file for a keras.applications backbone (no "
        "download), relative to the search-space file's folder")


class ObjectiveSpec(StrictModel):
    metric: str = Field(default="val_accuracy", description="metric Keras logs each epoch")
    mode: Literal["max", "min"] | None = Field(
        default=None, description="max or min; null = min for losses and costs (param_count, "
        "flops, epoch_seconds), max otherwise")

    @property
    def direction(self) -> Literal["max", "min"]:
        if self.mode is not None:
            return self.mode
        return "min" if "loss" in self.metric or self.metric in COST_METRICS else "max"

    def objective(self) -> Objective:
        return Objective.of(self.metric, self.direction)


def _objective_form(value: Any) -> str:
    return "list" if isinstance(value, list) else "one"


def _check_objectives(value: ObjectiveSpec | list[ObjectiveSpec]) -> ObjectiveSpec | list[
        ObjectiveSpec]:
    if not isinstance(value, list):
        if value.metric in COST_METRICS:
            raise ValueError(f"objective.metric {value.metric!r} is a cost, not a metric Keras "
                             "logs each epoch; optimise it beside one: objective: [{metric: "
                             f"val_accuracy, mode: max}}, {{metric: {value.metric}, mode: min}}]")
        return value
    if not value:
        raise ValueError("an empty list of objectives; write one {metric: ..., mode: ...} or more")
    if value[0].metric in COST_METRICS:
        raise ValueError(f"the first objective must be a metric Keras logs each epoch (it drives "
                         f"early stopping, the schedulers and the best epoch), got "
                         f"{value[0].metric!r}; put it after one such as val_accuracy")
    metrics = [o.metric for o in value]
    twice = sorted({m for m in metrics if metrics.count(m) > 1})
    if twice:
        raise ValueError(f"objective {', '.join(twice)} listed twice; list each metric once")
    return value


class BudgetSpec(StrictModel):
    trials: PositiveInt = Field(default=20, description="trials to run (grid: the grid size)")
    max_epochs: PositiveInt = Field(default=10, description="epochs at most per trial")
    time_limit: Duration = Field(default=None, description="wall-clock limit: 90s, 30m, 2h")
    target: float | None = Field(
        default=None, allow_inf_nan=False,
        description="end the sweep once a trial's (first) objective reaches this value "
        "(at least it for max, at most for min): no new trial starts, running ones run to "
        "their end, as `sweeper stop`")


class SearchSpec(StrictModel):
    algorithm: Literal["tpe", "random", "grid", "cmaes", "nsga2"] = Field(
        default="tpe", description="Optuna sampler (nsga2: NSGAIISampler, for several "
        "objectives; tpe handles several too)")
    seed: StrictInt = Field(default=0, description="sampler seed")
    defaults_first: StrictBool = Field(
        default=True, description="the first trial takes the model kind's default values where "
        "the space allows them (as KerasTuner's first trial does)")
    start: list[dict[str, Any]] = Field(
        default_factory=list, description="configurations to try first, in order (Optuna's "
        "enqueue_trial): [{learning_rate: 1.0e-3, depth: 2}, ...]; parameters left out are "
        "sampled")


class SchedulerSpec(StrictModel):
    kind: Literal[
        "asha", "hyperband", "median", "fifo", "optuna_hyperband", "optuna_median", "optuna_sha"
    ] = Field(default="asha", description="who stops bad trials early")
    grace_period: PositiveInt = Field(default=1, description="epochs before a trial can stop")
    reduction_factor: float = Field(default=3.0, gt=1.0,
                                    description="halving rate of asha/hyperband")

    @field_validator("reduction_factor")
    @classmethod
    def _whole_for_optuna(cls, value: float, info: ValidationInfo) -> float:
        kind = info.data.get("kind")
        if kind in ("optuna_hyperband", "optuna_sha") and (value != int(value) or value < 2):
            raise ValueError(f"scheduler '{kind}' is Optuna's pruner, which halves by a whole "
                             f"reduction_factor of at least 2, got {value}; write 2, 3 or 4")
        return value


class EarlyStoppingSpec(StrictModel):
    patience: PositiveInt | None = Field(
        default=5, description="epochs without improvement before a trial stops; null = off")
    min_delta: float = Field(default=0.0, ge=0.0, description="smallest change that counts")
    restore_best_weights: StrictBool = Field(default=True,
                                             description="keep the best epoch's weights")


class ResourcesSpec(StrictModel):
    cpus_per_trial: float = Field(default=1.0, gt=0.0, description="CPU cores per trial")
    gpus_per_trial: float = Field(default=0.0, ge=0.0,
                                  description="GPUs per trial; 0.5 = two trials per GPU")
    concurrency: PositiveInt | None = Field(default=None,
                                            description="trials at once; null = as many as fit")
    worker_memory_growth_mb: PositiveInt | None = Field(
        default=150, description="a worker whose resident memory grew by more than this since "
        "its first trial is replaced by a fresh process once its trial ends (TensorFlow keeps "
        "a few MB per model); null = reuse workers whatever they hold")

    @field_validator("gpus_per_trial")
    @classmethod
    def _whole_above_one(cls, value: float) -> float:
        if value > 1 and value != int(value):
            raise ValueError(f"more than one GPU per trial must be a whole number, got {value}")
        return value


class FailuresSpec(StrictModel):
    max_failures: int = Field(default=1, ge=0,
                              description="retries of a trial whose worker or node died")
    max_consecutive_failed: PositiveInt = Field(
        default=10, description="stop the sweep after this many failed trials in a row")
    checkpoint_interval: Interval = Field(
        default=60.0, description="besides its best and last epochs, a trial checkpoints once "
        "this long has passed since its last checkpoint, so a killed trial redoes at most this "
        "much training: 30s, 5m; 0 = every epoch")


class DiagnosisSpec(StrictModel):
    """Detectors that name why a trial does not learn (README: "Diagnosis")."""

    enabled: StrictBool = Field(default=True, description="run the detectors in every trial")
    prune: StrictBool = Field(
        default=True, description="a severe finding stops the trial at once (status pruned, "
        "reason diagnosis); false = findings are only recorded")
    ignore: list[Code] = Field(default_factory=list,
                               description="codes to leave out: [overfitting, dead_relu]")
    probe_every: PositiveInt = Field(
        default=100, description="training steps between two probes of gradients and "
        "activations on one fixed batch (also at steps 0 and 10)")


class ConstraintsSpec(StrictModel):
    """Hard limits on a trial's model: a trial over one is infeasible (never best, and
    Optuna's tpe and nsga2 samplers learn to avoid it through their constraints)."""

    max_params: PositiveInt | None = Field(
        default=None, description="most trainable and non-trainable parameters; checked before "
        "training (before the trial starts where the model kind counts without building)")
    max_flops: PositiveInt | None = Field(
        default=None, description="most FLOPs of one forward pass of one image (2 x multiply-"
        "adds of convolutions and dense layers); checked as max_params is")
    max_epoch_seconds: float | None = Field(
        default=None, gt=0, description="longest training+validation epoch in seconds; checked "
        "during the first epoch (the trial ends as soon as it runs longer)")

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.max_params, self.max_flops,
                                            self.max_epoch_seconds))


def _parse_pick(value: Any) -> Pick | None:
    if value is None or isinstance(value, Pick):
        return value
    return Pick.parse(str(value))


class TrackingSpec(StrictModel):
    uri: str | None = Field(default=None, description="MLflow tracking URI; null = runs/")
    experiment: str | None = Field(default=None, description="null = the sweep name")


class SweepSpec(StrictModel):
    """A whole search-space file."""

    name: str = Field(pattern=NAME_PATTERN, description="sweep name; default: file stem")
    data: DataSpec = Field(default_factory=DataSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    objective: Annotated[Annotated[ObjectiveSpec, Tag("one")]
                         | Annotated[list[ObjectiveSpec], Tag("list")],
                         Discriminator(_objective_form),
                         AfterValidator(_check_objectives)] = Field(
        default_factory=ObjectiveSpec, description="{metric, mode}, or a list of them for a "
        "multi-objective sweep (the first: a metric Keras logs; later ones may be "
        "param_count, flops or epoch_seconds)")
    pick: Annotated[Pick | None, BeforeValidator(_parse_pick)] = Field(
        default=None, description="which trial of the Pareto front is the best (status, export, "
        "--register-model): best:METRIC | smallest-within:DELTA; null = best on the first "
        "objective")
    constraints: ConstraintsSpec = Field(default_factory=ConstraintsSpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    search: SearchSpec = Field(default_factory=SearchSpec)
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)
    early_stopping: EarlyStoppingSpec = Field(default_factory=EarlyStoppingSpec)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    failures: FailuresSpec = Field(default_factory=FailuresSpec)
    storage: str | None = Field(default=None, description="Ray Tune storage path or URI")
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    diagnosis: DiagnosisSpec = Field(default_factory=DiagnosisSpec)
    space: dict[str, Param] = Field(default_factory=dict, description="the hyperparameters")
    provenance: dict[str, Any] | None = Field(
        default=None, description="written by `sweeper export`: where a fixed config came from")

    @property
    def objective_specs(self) -> tuple[ObjectiveSpec, ...]:
        return tuple(self.objective) if isinstance(self.objective, list) else (self.objective,)

    @property
    def primary(self) -> ObjectiveSpec:
        """The first objective: early stopping, the schedulers and the best epoch follow it."""
        return self.objective_specs[0]

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return tuple(o.objective() for o in self.objective_specs)

    @property
    def multi_objective(self) -> bool:
        return len(self.objective_specs) > 1

    @property
    def fixed(self) -> bool:
        return all(isinstance(p, FixedParam) and not p.when for p in self.space.values())

    def fixed_params(self) -> dict[str, Any]:
        return {k: p.value for k, p in self.space.items() if isinstance(p, FixedParam)}


SECTION_MODELS: dict[str, type[BaseModel]] = {
    name: field.annotation
    for name, field in SweepSpec.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
} | {"objective": ObjectiveSpec}  # one objective, or a list of them

