"""KerasTuner's hyperparameters as sweeper space entries, and back.

``entries`` turns the space KerasTuner discovered (``HyperParameters.space``) into raw
entries in the file's own syntax; ``declare`` makes the ``keras_tuner.HyperParameters`` a
worker hands to ``build(hp)``: the sweep's space, holding one trial's values.

How KerasTuner's options map:

- ``Int``/``Float`` linear: ``{int: [lo, hi]}`` / ``{float: [lo, hi]}``, ``step`` kept (an Int's
  step 1 is the default); the high end is the last value the step reaches.
- ``sampling="log"``: ``log: true``; ``"reverse_log"`` (dense near the high end), which Optuna
  has not, is sampled as ``log`` (a note says so). With a step, KerasTuner's log values are
  ``min * step**k``: they become a choice of exactly those values (Optuna samples a log range
  or a step, never both).
- ``Choice``: ``{choice: [...]}``; ``Boolean``: ``{choice: [false, true]}``; ``Fixed``: the value.
- ``conditional_scope`` and ``parent_name``/``parent_values``: ``when: {parent: [values]}``
  (nested scopes: one key each). An ``Int`` that is the parent of a condition becomes a
  choice of its values, since conditions refer to choices.
- One name declared under several conditions with the same definition: one entry, its
  condition's values joined; with different definitions, refused (one name, one range).
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from sweeper.config.params import (
    AnyParam,
    ChoiceParam,
    FixedParam,
    FloatParam,
    IntParam,
    condition_order,
)

if TYPE_CHECKING:
    import keras_tuner

__all__ = ["MAX_LISTED_VALUES", "Mapped", "declare", "entries"]

MAX_LISTED_VALUES = 64  # a stepped log range with more values stays a continuous log range


class Mapped:
    """The entries of a KerasTuner space, their defaults, notes on what was mapped, and
    the declarations sweeper cannot hold (one message each)."""

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}
        self.defaults: dict[str, Any] = {}
        self.notes: list[str] = []
        self.refused: list[str] = []


def _conditions(hp: Any) -> dict[str, list[Any]]:
    when: dict[str, list[Any]] = {}
    for condition in hp.conditions:
        when.setdefault(condition.name, [])
        when[condition.name] += [v for v in condition.values if v not in when[condition.name]]
    return when


def _definition(hp: Any) -> dict[str, Any]:
    config = dict(hp.get_config())
    config.pop("conditions", None)
    return {"class": type(hp).__name__, **config}


def _values(hp: Any, is_int: bool) -> list[Any]:
    """A stepped hp's values as KerasTuner enumerates them (ints, or rounded floats)."""
    return sorted({round(v) if is_int else _number(v) for v in hp.values})


def _number(value: float) -> float:
    return round(float(value), 12)


def _numeric(hp: Any, mapped: Mapped) -> Any:
    """An Int or Float hp as an entry."""
    is_int = type(hp).__name__ == "Int"
    key = "int" if is_int else "float"
    low, high, step, sampling = hp.min_value, hp.max_value, hp.step, hp.sampling
    if low == high:
        return low
    if sampling in ("log", "reverse_log"):
        if sampling == "reverse_log":
            mapped.notes.append(f"{hp.name}: KerasTuner's reverse_log sampling is sampled as log")
        if step is not None:
            values = _values(hp, is_int)
            if len(values) <= MAX_LISTED_VALUES:
                mapped.notes.append(f"{hp.name}: KerasTuner's log sampling with step {step} "
                                    f"takes {values[0]} * {step}^k: a choice of those values")
                return {"choice": values}
            mapped.notes.append(f"{hp.name}: log sampling with step {step} has "
                                f"{len(values)} values: sampled as a continuous log range")
        return {key: [low, high] if is_int else [_number(low), _number(high)], "log": True}
    if step is None or (is_int and step == 1):
        return {key: [low, high] if is_int else [_number(low), _number(high)]}
    count = math.floor((high - low) / step + 1e-9)
    top = low + count * step
    top = int(top) if is_int else _number(top)
    if top != high:
        mapped.notes.append(f"{hp.name}: step {step} from {low} ends at {top}, below "
                            f"max_value {high}")
    if top == low:
        return low
    return {key: [low, top], "step": step if is_int else _number(step)}


def _entry(hp: Any, mapped: Mapped) -> Any:
    kind = type(hp).__name__
    if kind == "Fixed":
        return hp.value
    if kind == "Boolean":
        return {"choice": [False, True]}
    if kind == "Choice":
        return {"choice": list(hp.values)}
    if kind in ("Int", "Float"):
        return _numeric(hp, mapped)
    mapped.refused.append(f"'{hp.name}' is a KerasTuner {kind}, which sweeper cannot sample")
    return None


def entries(space: list[Any]) -> Mapped:
    """Entries for the hps of a KerasTuner space (``HyperParameters.space``), in order."""
    mapped = Mapped()
    groups: dict[str, list[Any]] = {}
    for hp in space:
        groups.setdefault(hp.name, []).append(hp)
    parents = {c.name for hp in space for c in hp.conditions}
    for name, hps in groups.items():
        first = hps[0]
        if any(_definition(hp) != _definition(first) for hp in hps[1:]):
            shown = "; ".join(f"{_described(_conditions(hp))}: {_definition(hp)['class']} "
                              f"{_short(hp)}" for hp in hps)
            mapped.refused.append(
                f"'{name}' is declared {len(hps)} times with different definitions ({shown}); "
                "a sweeper space holds one definition per name: give each its own name")
            continue
        when = _joined_conditions(name, hps, mapped)
        if when is False:
            continue
        entry = _entry(first, mapped)
        if entry is None:
            continue
        if name in parents and type(first).__name__ == "Int" and isinstance(entry, dict) \
                and "int" in entry and not entry.get("log"):
            values = list(range(entry["int"][0], entry["int"][1] + 1, entry.get("step", 1)))
            if len(values) <= MAX_LISTED_VALUES:
                entry = {"choice": values}
                mapped.notes.append(f"{name}: an Int that conditions other hps: a choice of "
                                    "its values")
        if when:
            entry = dict(entry) if isinstance(entry, dict) else {"value": entry}
            entry["when"] = when
        mapped.entries[name] = entry
        mapped.defaults[name] = first.default
    return mapped


def _joined_conditions(name: str, hps: list[Any], mapped: Mapped) -> Any:
    """The one condition of an hp declared under several (False: cannot be joined)."""
    conditions = [_conditions(hp) for hp in hps]
    if len(hps) == 1 or any(not c for c in conditions):
        return conditions[0] if len(hps) == 1 else {}  # declared once without a condition
    parents = {tuple(c) for c in conditions}
    if len(parents) != 1 or len(conditions[0]) != 1:
        mapped.refused.append(
            f"'{name}' is declared under {len(hps)} different conditions ("
            + "; ".join(_described(c) for c in conditions)
            + "); sweeper joins them only when they test one parent: give each its own name")
        return False
    (parent,) = conditions[0]
    values: list[Any] = []
    for condition in conditions:
        values += [v for v in condition[parent] if v not in values]
    return {parent: values}


def _described(when: dict[str, list[Any]]) -> str:
    return " and ".join(f"{k} in {v}" for k, v in when.items()) or "always"


def _short(hp: Any) -> str:
    config = _definition(hp)
    if "values" in config:
        return str(config["values"])
    if "min_value" in config:
        return f"[{config['min_value']}, {config['max_value']}]"
    return repr(config.get("value", ""))


def declare(space: dict[str, AnyParam], values: dict[str, Any]) -> keras_tuner.HyperParameters:
    """A ``HyperParameters`` holding ``space`` (conditions as conditional scopes) with one
    trial's ``values``: what the trial's ``build(hp)`` and ``fit(hp, ...)`` get. The values
    decide what every hp call returns, so an entry KerasTuner cannot declare (a choice of
    mixed types a file wrote) is left out of the space, never out of the values."""
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hp.values = dict(values)
    for name in condition_order(space):
        param = space[name]
        try:
            with ExitStack() as scopes:
                for parent, wanted in param.condition_values().items():
                    scopes.enter_context(hp.conditional_scope(parent, wanted))
                _declare_one(hp, name, param)
        except (TypeError, ValueError):
            continue
    return hp


def _declare_one(hp: Any, name: str, param: AnyParam) -> None:
    if isinstance(param, FixedParam):
        hp.Fixed(name, param.value)
    elif isinstance(param, ChoiceParam):
        hp.Choice(name, list(param.choice))
    elif isinstance(param, IntParam):
        hp.Int(name, *param.range_, step=param.step if param.step != 1 else None,
               sampling="log" if param.log else "linear")
    elif isinstance(param, FloatParam):
        hp.Float(name, *param.range_, step=param.step,
                 sampling="log" if param.log else "linear")
