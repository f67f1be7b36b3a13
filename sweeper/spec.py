"""The search-space file: schema (pydantic), loading, and errors located as FILE:LINE:COL.

Structure is checked by pydantic; rules that relate fields (conditions, the built-in CNN's
names, grid needs) are checked here afterwards, against the same located document, so
every complaint points at the line that needs the fix.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PositiveInt,
    StrictBool,
    StrictInt,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sweeper.catalog import CNN_HYPERPARAMETERS
from sweeper.errors import Problem, SpecError
from sweeper.yamlio import LocatedDocument, PathKey, load_file, load_text

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
BUILDER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
SCALAR_TYPES = (str, int, float, bool, type(None))


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must never silently become a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- parameters
Condition = dict[str, Any]


class _Param(StrictModel):
    when: Condition | None = Field(
        default=None, description="sample this parameter only when another has these values"
    )

    @field_validator("when")
    @classmethod
    def _when_values(cls, value: Condition | None) -> Condition | None:
        if value is None:
            return None
        if not value:
            raise ValueError("empty condition; write {parameter: value} or remove 'when'")
        for key, wanted in value.items():
            values = wanted if isinstance(wanted, list) else [wanted]
            if not values or not all(isinstance(v, SCALAR_TYPES) for v in values):
                raise ValueError(f"condition on '{key}' needs a value or a list of values")
        return value

    def condition_values(self) -> dict[str, list[Any]]:
        if not self.when:
            return {}
        return {k: (v if isinstance(v, list) else [v]) for k, v in self.when.items()}


def _check_range(low: float, high: float, log: bool) -> None:
    """The rules every numeric range shares."""
    if low >= high:
        raise ValueError(
            f"low must be below high, got [{low}, {high}]"
            + ("; for a fixed value write the value itself" if low == high else ""))
    if log and low <= 0:
        raise ValueError(f"a log range must be above zero, got [{low}, {high}]")


class ChoiceParam(_Param):
    """One of a list of values."""

    choice: list[Any] = Field(description="the values to choose from")

    @field_validator("choice")
    @classmethod
    def _choices(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("empty choice list; give at least one value")
        for item in value:
            if not isinstance(item, SCALAR_TYPES):
                raise ValueError(f"choices must be plain values, got {item!r}")
        seen: list[Any] = []
        for item in value:
            if any(item == s and type(item) is type(s) for s in seen):
                raise ValueError(f"the value {item!r} is listed twice")
            seen.append(item)
        return value

    @property
    def values(self) -> list[Any]:
        return list(self.choice)

    @property
    def discrete(self) -> bool:
        return True


class IntParam(_Param):
    """An integer range [low, high], inclusive."""

    range_: tuple[StrictInt, StrictInt] = Field(alias="int", description="[low, high]")
    step: PositiveInt = Field(default=1, description="grid step")
    log: StrictBool = Field(default=False, description="sample on a log scale")

    @model_validator(mode="after")
    def _bounds(self) -> IntParam:
        low, high = self.range_
        _check_range(low, high, self.log)
        if self.log and self.step != 1:
            raise ValueError("'log' and 'step' cannot be combined (Optuna samples one or the "
                             "other); remove one")
        return self

    @property
    def values(self) -> list[Any]:
        low, high = self.range_
        return list(range(low, high + 1, self.step))

    @property
    def discrete(self) -> bool:
        return True


class FloatParam(_Param):
    """A real range [low, high]."""

    range_: tuple[float, float] = Field(alias="float", description="[low, high]")
    step: float | None = Field(default=None, gt=0, description="grid step; null = continuous")
    log: StrictBool = Field(default=False, description="sample on a log scale")

    @model_validator(mode="after")
    def _bounds(self) -> FloatParam:
        low, high = self.range_
        _check_range(low, high, self.log)
        if self.log and self.step is not None:
            raise ValueError("'log' and 'step' cannot be combined; remove one")
        if self.step is not None and self.step > high - low:
            raise ValueError(f"step {self.step} is larger than the range [{low}, {high}]")
        return self

    @property
    def values(self) -> list[Any]:
        if self.step is None:
            raise ValueError("a continuous range has no finite list of values")
        low, high = self.range_
        count = round((high - low) / self.step + 1e-9) + 1
        return [round(low + i * self.step, 12) for i in range(count)]

    @property
    def discrete(self) -> bool:
        return self.step is not None


class FixedParam(_Param):
    """A value that is not searched (a bare value in the file)."""

    value: Any = Field(description="the fixed value")

    @property
    def values(self) -> list[Any]:
        return [self.value]

    @property
    def discrete(self) -> bool:
        return True


KIND_KEYS = {"choice": ChoiceParam, "int": IntParam, "float": FloatParam, "value": FixedParam}


def _bare_to_fixed(raw: Any) -> Any:
    if isinstance(raw, (dict, list)):
        return raw
    return {"value": raw}


def _param_tag(raw: Any) -> str | None:
    if isinstance(raw, dict):
        for key in KIND_KEYS:
            if key in raw:
                return key
    if isinstance(raw, BaseModel):
        return next(k for k, c in KIND_KEYS.items() if isinstance(raw, c))
    return None


Param = Annotated[
    Annotated[ChoiceParam, Tag("choice")]
    | Annotated[IntParam, Tag("int")]
    | Annotated[FloatParam, Tag("float")]
    | Annotated[FixedParam, Tag("value")],
    Discriminator(
        _param_tag,
        custom_error_type="parameter_kind",
        custom_error_message=(
            "expected {choice: [a, b]}, {int: [low, high]}, {float: [low, high]} or a fixed "
            "value; a bare list is ambiguous: write {choice: [...]} to search it or "
            "{value: [...]} to fix it"
        ),
    ),
    BeforeValidator(_bare_to_fixed),
]
AnyParam = ChoiceParam | IntParam | FloatParam | FixedParam


# ---------------------------------------------------------------- sections
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
    if seconds <= 0:
        raise ValueError(f"a time limit must be above zero, got {value!r}")
    return seconds


Duration = Annotated[float | None, BeforeValidator(parse_duration)]


class DataSpec(StrictModel):
    """Where the images come from and how they are split."""

    source: Literal["digits", "mnist5k", "directory", "npz"] = Field(
        default="mnist5k", description="digits (8x8, tests) | mnist5k | directory | npz")
    path: str | None = Field(
        default=None, description="folder (one sub-folder per class) or .npz file; relative "
        "paths are read from the search-space file's folder")
    image_size: tuple[PositiveInt, PositiveInt] | None = Field(
        default=None, description="[height, width] the model sees; null = the source's size "
        "(64x64 for folders)")
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
    kind: str = Field(default="cnn",
                      description="cnn (built in) or package.module:function (your builder)")

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value != "cnn" and not BUILDER_PATTERN.match(value):
            suggestion = _did_you_mean(value, ["cnn"])
            raise ValueError(
                f"expected 'cnn' or 'package.module:function', got {value!r}{suggestion}")
        return value

    @property
    def builtin(self) -> bool:
        return self.kind == "cnn"


class ObjectiveSpec(StrictModel):
    metric: str = Field(default="val_accuracy", description="metric Keras logs each epoch")
    mode: Literal["max", "min"] | None = Field(
        default=None, description="max or min; null = min for losses, max otherwise")

    @property
    def direction(self) -> Literal["max", "min"]:
        if self.mode is not None:
            return self.mode
        return "min" if "loss" in self.metric else "max"


class BudgetSpec(StrictModel):
    trials: PositiveInt = Field(default=20, description="trials to run (grid: the grid size)")
    max_epochs: PositiveInt = Field(default=10, description="epochs at most per trial")
    time_limit: Duration = Field(default=None, description="wall-clock limit: 90s, 30m, 2h")


class SearchSpec(StrictModel):
    algorithm: Literal["tpe", "random", "grid", "cmaes"] = Field(
        default="tpe", description="Optuna sampler")
    seed: StrictInt = Field(default=0, description="sampler seed")


class SchedulerSpec(StrictModel):
    kind: Literal[
        "asha", "hyperband", "median", "fifo", "optuna_hyperband", "optuna_median", "optuna_sha"
    ] = Field(default="asha", description="who stops bad trials early")
    grace_period: PositiveInt = Field(default=1, description="epochs before a trial can stop")
    reduction_factor: float = Field(default=3.0, gt=1.0,
                                    description="halving rate of asha/hyperband")


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


class TrackingSpec(StrictModel):
    uri: str | None = Field(default=None, description="MLflow tracking URI; null = runs/")
    experiment: str | None = Field(default=None, description="null = the sweep name")


class SweepSpec(StrictModel):
    """A whole search-space file."""

    name: str = Field(pattern=NAME_PATTERN, description="sweep name; default: file stem")
    data: DataSpec = Field(default_factory=DataSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    search: SearchSpec = Field(default_factory=SearchSpec)
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)
    early_stopping: EarlyStoppingSpec = Field(default_factory=EarlyStoppingSpec)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    failures: FailuresSpec = Field(default_factory=FailuresSpec)
    storage: str | None = Field(default=None, description="Ray Tune storage path or URI")
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    space: dict[str, Param] = Field(default_factory=dict, description="the hyperparameters")
    provenance: dict[str, Any] | None = Field(
        default=None, description="written by `sweeper export`: where a fixed config came from")

    @property
    def fixed(self) -> bool:
        return all(isinstance(p, FixedParam) and not p.when for p in self.space.values())

    def fixed_params(self) -> dict[str, Any]:
        return {k: p.value for k, p in self.space.items() if isinstance(p, FixedParam)}


SECTION_MODELS: dict[str, type[BaseModel]] = {
    name: field.annotation
    for name, field in SweepSpec.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
}


# ---------------------------------------------------------------- loaded spec
class LoadedSpec:
    """A validated spec with the document it came from (for located messages later)."""

    def __init__(self, spec: SweepSpec, doc: LocatedDocument, base_dir: Path,
                 warnings: list[Problem]) -> None:
        self.spec = spec
        self.doc = doc
        self.base_dir = base_dir
        self.warnings = warnings

    def problem(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        return self.doc.problem(path, message, key=key)

    def data_path(self) -> Path | None:
        if self.spec.data.path is None:
            return None
        path = Path(self.spec.data.path).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)


def _did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _allowed_keys(loc: tuple[Any, ...]) -> tuple[list[str], str]:
    """Keys the schema allows at ``loc`` (pydantic's loc, tags included), and a label."""
    if not loc:
        return list(SweepSpec.model_fields), "the top level"
    if loc[0] == "space" and len(loc) >= 3 and loc[2] in KIND_KEYS:
        cls = KIND_KEYS[loc[2]]
        keys = [f.alias or n for n, f in cls.model_fields.items()]  # type: ignore[attr-defined]
        return keys, f"space.{loc[1]} (a {loc[2]} parameter)"
    section = SECTION_MODELS.get(str(loc[0]))
    if section is not None and len(loc) == 1:
        return list(section.model_fields), f"'{loc[0]}'"
    return [], _dotted(loc)


def _strip_tags(loc: tuple[Any, ...], data: Any) -> PathKey:
    """Pydantic's loc without union tags and function names: the path in the YAML data."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            path.append(part)
            node = node[part]
        elif isinstance(node, dict | list):
            continue  # a tag or function-validator name pydantic puts in loc
        else:
            break
    return tuple(path)


def _pydantic_problems(exc: ValidationError, doc: LocatedDocument) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed, where = _allowed_keys(loc[:-1])
            path = (*_strip_tags(loc[:-1], doc.data), key)
            message = f"unknown key '{key}' in {where}"
            if allowed:
                message += f"; expected one of: {', '.join(allowed)}"
            message += _did_you_mean(key, allowed)
            problems.append(doc.problem(path, message, key=True))
            continue
        path = _strip_tags(loc, doc.data)
        dotted = _dotted(path)
        got = error.get("input")
        if kind == "missing":
            problems.append(doc.problem(path, f"{dotted}: missing required key '{loc[-1]}'"))
            continue
        if kind == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            options = re.findall(r"'([^']*)'", expected) or re.findall(r"[\w.]+", expected)
            message = f"{dotted}: expected one of {expected}, got {got!r}"
            message += _did_you_mean(str(got), options)
            problems.append(doc.problem(path, message))
            continue
        msg = error["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if kind in ("value_error", "parameter_kind", "assertion_error"):
            problems.append(doc.problem(path, f"{dotted}: {msg}"))
        elif kind == "string_pattern_mismatch" and path == ("name",):
            problems.append(doc.problem(path, f"name: expected letters, digits, '.', '_' or '-' "
                                              f"(no '/' or '..'), got {got!r}"))
        else:
            problems.append(doc.problem(path, f"{dotted}: {msg}, got {got!r}"))
    return problems


# ---------------------------------------------------------------- semantic rules
def _check_conditions(spec: SweepSpec, doc: LocatedDocument) -> list[Problem]:
    problems: list[Problem] = []
    names = list(spec.space)
    for name, param in spec.space.items():
        for other, wanted in param.condition_values().items():
            where = ("space", name, "when", other)
            if other == name:
                problems.append(doc.problem(where, f"space.{name}: a parameter cannot depend "
                                                   "on itself", key=True))
                continue
            if other not in spec.space:
                problems.append(doc.problem(
                    where, f"space.{name}.when: unknown parameter '{other}'"
                    + _did_you_mean(other, names), key=True))
                continue
            target = spec.space[other]
            if not isinstance(target, ChoiceParam | FixedParam):
                problems.append(doc.problem(
                    where, f"space.{name}.when: '{other}' is a range; conditions can refer "
                    "only to choice or fixed parameters", key=True))
                continue
            possible = target.values
            for value in wanted:
                if value not in possible:
                    problems.append(doc.problem(
                        ("space", name, "when", other),
                        f"space.{name}.when.{other}: {value!r} is not a value of '{other}' "
                        f"(its values: {', '.join(repr(v) for v in possible)})"
                        + _did_you_mean(str(value), [str(v) for v in possible])))
    if not problems:
        problems += _check_cycles(spec, doc)
    return problems


def _check_cycles(spec: SweepSpec, doc: LocatedDocument) -> list[Problem]:
    try:
        condition_order(spec.space)
    except ValueError as exc:
        name = str(exc)
        return [doc.problem(("space", name, "when"),
                            f"space.{name}.when: conditions form a cycle; a parameter cannot "
                            "depend, even indirectly, on itself")]
    return []


def condition_order(space: dict[str, AnyParam]) -> list[str]:
    """Parameter names so that each comes after those its condition reads (file order kept)."""
    ordered: list[str] = []
    placed: set[str] = set()
    remaining = list(space)
    while remaining:
        progressed = False
        for name in list(remaining):
            needs = set(space[name].condition_values())
            if needs <= placed:
                ordered.append(name)
                placed.add(name)
                remaining.remove(name)
                progressed = True
        if not progressed:
            raise ValueError(remaining[0])
    return ordered


def _check_builtin_names(spec: SweepSpec, doc: LocatedDocument) -> list[Problem]:
    problems: list[Problem] = []
    known = list(CNN_HYPERPARAMETERS)
    for name, param in spec.space.items():
        rule = CNN_HYPERPARAMETERS.get(name)
        if rule is None:
            problems.append(doc.problem(
                ("space", name),
                f"space.{name}: the built-in cnn model has no parameter '{name}'"
                + (_did_you_mean(name, known) or f"; known: {', '.join(known)}")
                + " (a custom builder, model.kind: package.module:function, accepts any name)",
                key=True))
            continue
        if isinstance(param, ChoiceParam | FixedParam):
            items = param.values
            paths: list[PathKey] = (
                [("space", name, "choice", i) for i in range(len(items))]
                if isinstance(param, ChoiceParam) else [("space", name)])
        else:
            items = list(param.range_)
            paths = [("space", name, "int" if isinstance(param, IntParam) else "float", i)
                     for i in range(2)]
            if rule.type is str or rule.type is bool:
                problems.append(doc.problem(
                    ("space", name), f"space.{name}: expected {rule.describe_bounds()}; "
                    f"a numeric range does not fit, use {{choice: [...]}}"))
                continue
            if rule.type is int and isinstance(param, FloatParam):
                problems.append(doc.problem(
                    ("space", name), f"space.{name}: expected whole numbers; use "
                    f"{{int: [low, high]}} instead of {{float: ...}}", key=True))
                continue
        for value, path in zip(items, paths, strict=True):
            why = rule.check(value)
            if why:
                hint = _did_you_mean(str(value), [str(c) for c in rule.choices or ()])
                problems.append(doc.problem(path, f"space.{name}: {why}{hint}"))
    return problems


def _check_search(spec: SweepSpec, doc: LocatedDocument) -> tuple[list[Problem], list[Problem]]:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    algorithm = spec.search.algorithm
    if algorithm == "grid":
        for name, param in spec.space.items():
            if not param.discrete:
                problems.append(doc.problem(
                    ("space", name),
                    f"space.{name}: search.algorithm 'grid' needs every parameter discrete; "
                    f"'{name}' is a continuous range: add 'step', or make it a choice",
                    key=True))
        if not spec.space:
            problems.append(doc.problem(("search", "algorithm"),
                                        "search.algorithm 'grid' needs at least one parameter"))
    if algorithm == "cmaes":
        categorical = [n for n, p in spec.space.items() if isinstance(p, ChoiceParam)]
        if categorical:
            warnings.append(doc.problem(
                ("search", "algorithm"),
                "warning: CMA-ES samples categorical parameters at random "
                f"({', '.join(categorical)}); consider tpe"))
    return problems, warnings


def _check_model_and_objective(spec: SweepSpec, doc: LocatedDocument) -> list[Problem]:
    problems: list[Problem] = []
    if spec.model.builtin:
        allowed = ["val_accuracy", "val_loss", "accuracy", "loss"]
        if spec.objective.metric not in allowed:
            problems.append(doc.problem(
                ("objective", "metric"),
                f"objective.metric: the built-in cnn logs {', '.join(allowed)}; got "
                f"{spec.objective.metric!r}" + _did_you_mean(spec.objective.metric, allowed)))
    return problems


def _check_data(loaded: LoadedSpec) -> list[Problem]:
    data = loaded.spec.data
    path = loaded.data_path()
    if path is None:
        return []
    where = ("data", "path")
    if data.source == "directory":
        if not path.exists():
            return [loaded.problem(where, f"data.path: no folder {str(path)!r}; expected a "
                                          "folder with one sub-folder of images per class")]
        if not path.is_dir():
            return [loaded.problem(where, f"data.path: {str(path)!r} is a file; "
                                          "data.source 'directory' needs a folder")]
    if data.source == "npz" and not path.is_file():
        return [loaded.problem(where, f"data.path: no file {str(path)!r}; expected an "
                                      ".npz with arrays 'x' and 'y'")]
    return []


def validate_document(doc: LocatedDocument, default_name: str, base_dir: Path) -> LoadedSpec:
    """Schema and rules; raise SpecError listing every problem found."""
    if not isinstance(doc.data, dict):
        raise SpecError([doc.problem((), "expected a mapping of sections (data, space, budget, "
                                          f"...), got {type(doc.data).__name__}")])
    raw = dict(doc.data)
    raw.setdefault("name", default_name)
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_pydantic_problems(exc, doc)) from None
    problems = _check_conditions(spec, doc)
    if spec.model.builtin:
        problems += _check_builtin_names(spec, doc)
    search_problems, warnings = _check_search(spec, doc)
    problems += search_problems + _check_model_and_objective(spec, doc)
    loaded = LoadedSpec(spec, doc, base_dir, warnings)
    problems += _check_data(loaded)
    if problems:
        raise SpecError(problems)
    return loaded


def load(path: str | Path) -> LoadedSpec:
    """Load and validate a search-space file."""
    path = Path(path)
    doc = load_file(path)
    return validate_document(doc, _default_name(path.stem), path.resolve().parent)


def loads(text: str, file: str = "<string>", base_dir: Path | None = None) -> LoadedSpec:
    """Load and validate search-space text (tests, notebooks)."""
    doc = load_text(text, file)
    return validate_document(doc, _default_name(Path(file).stem),
                             base_dir or Path.cwd())


def _default_name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "-", stem).lstrip("._-") or "sweep"
    return name[:100]
