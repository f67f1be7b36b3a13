"""Search-space parameters: choice, int and float ranges, fixed values, and conditions.

A parameter's kind is read from its one key (``choice``, ``int``, ``float``; a bare value is
fixed), and ``when`` makes it conditional on other parameters' values.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

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
    field_validator,
    model_validator,
)

__all__ = ["KIND_KEYS", "MAX_VALUES_PER_RANGE", "AnyParam", "ChoiceParam", "FixedParam",
           "FloatParam", "IntParam", "Param", "StrictModel", "condition_order", "grid_count",
           "non_finite", "refusal"]

SCALAR_TYPES = (str, int, float, bool, type(None))
# A float range with a step finer than this many values is a continuous range in disguise
# (and a step like 1.0e-320 would overflow counting them): refused, not materialised.
MAX_VALUES_PER_RANGE = 1_000_000


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must never silently become a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)


def non_finite(value: Any) -> float | None:
    """The first infinite or NaN float in ``value`` (lists and mappings searched), else None:
    a number YAML reads from .inf or .nan means nothing to a sweep."""
    if isinstance(value, float) and not math.isfinite(value):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        found = non_finite(item)
        if found is not None:
            return found
    return None


def _require_finite(value: Any) -> None:
    found = non_finite(value)
    if found is not None:
        raise ValueError(f"expected a finite number, got {found} (from YAML's .inf or .nan); "
                         "write a number")



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
            _require_finite(values)
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


def _yaml(value: Any) -> str:
    """A value as the YAML file spells it (true, not True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


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
        _require_finite(value)
        seen: list[Any] = []
        for item in value:
            for earlier in seen:
                if item == earlier and type(item) is type(earlier):
                    raise ValueError(f"the value {item!r} is listed twice")
                if item == earlier:  # 1, 1.0 and true: one value to Python and to Optuna
                    raise ValueError(
                        f"the values {_yaml(earlier)} and {_yaml(item)} are the same value to "
                        "Optuna (it would record one as the other); keep one, or quote them "
                        f"to make them text: '{_yaml(item)}'")
            seen.append(item)
        return value

    @property
    def values(self) -> list[Any]:
        return list(self.choice)

    @property
    def count(self) -> int:
        return len(self.choice)

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
    def count(self) -> int:
        """len(values), computed without making the list."""
        low, high = self.range_
        return (high - low) // self.step + 1

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
        if self.step is not None:
            steps = (high - low) / self.step
            if not math.isfinite(steps) or steps >= MAX_VALUES_PER_RANGE:
                raise ValueError(
                    f"step {self.step} cuts [{low}, {high}] into more than "
                    f"{MAX_VALUES_PER_RANGE:,} values; use a larger step, or remove 'step' "
                    "to sample the range continuously")
        return self

    @property
    def count(self) -> int:
        """len(values), computed without making the list."""
        if self.step is None:
            raise ValueError("a continuous range has no finite list of values")
        low, high = self.range_
        return round((high - low) / self.step + 1e-9) + 1

    @property
    def values(self) -> list[Any]:
        low, step = self.range_[0], self.step or 0.0
        return [round(low + i * step, 12) for i in range(self.count)]

    @property
    def discrete(self) -> bool:
        return self.step is not None


class FixedParam(_Param):
    """A value that is not searched (a bare value in the file)."""

    value: Any = Field(description="the fixed value")

    @field_validator("value")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        _require_finite(value)
        return value

    @property
    def values(self) -> list[Any]:
        return [self.value]

    @property
    def count(self) -> int:
        return 1

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



def refusal(param: AnyParam, value: Any) -> str | None:
    """Why ``param`` cannot take ``value`` (a start point, an earlier sweep's value), else
    None."""
    if isinstance(param, FixedParam):
        return None if value == param.value else f"the space fixes it at {param.value!r}"
    if isinstance(param, ChoiceParam):
        if any(value == c and isinstance(value, bool) == isinstance(c, bool)
               and isinstance(value, str) == isinstance(c, str) for c in param.choice):
            return None
        return f"expected one of {', '.join(repr(c) for c in param.choice)}"
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(param, IntParam) and not (number and float(value).is_integer()):
        return "expected a whole number"
    if not number:
        return "expected a number"
    low, high = param.range_
    if not low <= value <= high:
        return f"expected a value in [{low}, {high}]"
    step = param.step
    if step and abs((value - low) / step - round((value - low) / step)) > 1e-9:
        return f"expected {low} plus a multiple of the step {step}"
    return None


def grid_count(space: dict[str, AnyParam]) -> int | None:
    """Grid points of a space (every searched parameter's values combined), computed
    arithmetically so a huge grid is never made; None when a parameter is continuous."""
    if not all(p.discrete for p in space.values()):
        return None
    return math.prod(p.count for p in space.values() if not isinstance(p, FixedParam))


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

