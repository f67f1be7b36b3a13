"""Rules that explain a finding code by parameter values: ``optimizer=sgd and
learning_rate > 0.05, 9 of 9 trials (covers 9 of 10 with diverging)``.

Single conditions (a choice's value; a number above or below a cut at a midpoint between
the values seen), and pairs of them where the pair is more precise than either part.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from sweeper.config.params import AnyParam, ChoiceParam, FixedParam, FloatParam, IntParam
from sweeper.findings import Code
from sweeper.store.tables import PARAM_PREFIX, is_param_column

__all__ = ["MIN_CODED", "MIN_COVERAGE", "MIN_PRECISION", "TOP_RULES", "Column", "Condition",
           "Op", "Rule", "columns_of", "is_number", "mine", "plain", "show"]

MIN_PRECISION = 0.8  # a rule holds when this share of the trials it matches has the code
MIN_CODED = 2  # ... and it matches at least this many of them (one trial is an anecdote)
# ... and this share of all the trials with the code: among hundreds of trials two coded
# ones always share the top 1% of some parameter, which explains nothing
MIN_COVERAGE = 0.2
TOP_RULES = 3


class Op(StrEnum):
    EQ = "="
    GT = ">"
    LT = "<"


def show(value: Any) -> str:
    """A value as the search-space file spells it (true, 16 not 16.0, 0.05)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    return str(value)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value json.dumps takes."""
    return value.item() if isinstance(value, np.generic) else value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_)


@dataclass(frozen=True)
class Condition:
    """``param=value`` or ``param > t`` / ``param < t``; an inactive (empty) cell never
    matches."""

    param: str
    op: Op
    value: Any  # the choice value, or the threshold

    @property
    def text(self) -> str:
        sep = "=" if self.op == Op.EQ else f" {self.op.value} "
        return f"{self.param}{sep}{show(self.value)}"

    @property
    def key(self) -> tuple[str, Op, str]:
        """Thresholds on one side of one parameter are one rule, whatever the cut."""
        return self.param, self.op, show(self.value) if self.op == Op.EQ else ""

    def holds(self, value: Any) -> bool:
        if self.op == Op.EQ:
            return show(value) == show(self.value)
        return is_number(value) and (value > self.value if self.op == Op.GT
                                     else value < self.value)


@dataclass(frozen=True)
class Rule:
    """Conditions (ANDed) under which a code is common: ``coded`` of the ``matched`` trials
    have it, of the ``total`` trials with it."""

    code: Code
    conditions: tuple[Condition, ...]
    matched: int
    coded: int
    total: int

    @property
    def precision(self) -> float:
        return self.coded / self.matched

    @property
    def coverage(self) -> float:
        return self.coded / self.total

    @property
    def condition_text(self) -> str:
        return " and ".join(c.text for c in self.conditions)

    @property
    def text(self) -> str:
        return (f"{self.condition_text}, {self.coded} of {self.matched} trials (covers "
                f"{self.coded} of {self.total} with {self.code})")


@dataclass(frozen=True)
class Column:
    """One parameter's cells as arrays: labels (show()) for equality, numbers for
    thresholds; None in a cell where the parameter was inactive."""

    name: str
    param: AnyParam | None
    labels: np.ndarray | None
    numbers: np.ndarray | None
    values: dict[str, Any]  # label -> the value (the space's own where it has it)


@dataclass(frozen=True)
class _Hit:
    conditions: tuple[Condition, ...]
    mask: np.ndarray = field(compare=False)  # the trials it matches
    coded: int

    @property
    def matched(self) -> int:
        return int(self.mask.sum())

    @property
    def precision(self) -> float:
        return self.coded / self.matched


def columns_of(trials: pd.DataFrame, space: Mapping[str, AnyParam]) -> list[Column]:
    """The parameters that vary among the trials (fixed ones explain nothing)."""
    out = []
    for column in trials.columns:
        if not is_param_column(column):
            continue
        name, cells = column[len(PARAM_PREFIX):], trials[column].tolist()
        param = space.get(name)
        raw = [plain(v) for v in cells]
        raw = [None if v is None or (isinstance(v, float) and v != v) else v for v in raw]
        present = [v for v in raw if v is not None]
        if isinstance(param, FixedParam) or len({show(v) for v in present}) < 2:
            continue
        values = {show(v): v for v in present}
        if isinstance(param, ChoiceParam):
            values.update({show(c): c for c in param.choice})
            numeric = len(param.choice) > 2 and all(is_number(c) for c in param.choice)
        else:
            numeric = isinstance(param, IntParam | FloatParam) or all(map(is_number, present))
        ranged = isinstance(param, IntParam | FloatParam) or (param is None and numeric)
        labels = None if ranged else np.array([None if v is None else show(v) for v in raw],
                                              dtype=object)
        numbers = np.array([float(v) if is_number(v) else np.nan for v in raw]) if numeric \
            else None
        out.append(Column(name, param, labels, numbers, values))
    return out


def _mask(column: Column, condition: Condition) -> np.ndarray:
    if condition.op == Op.EQ:
        assert column.labels is not None
        return np.asarray(column.labels == show(condition.value), dtype=bool)
    assert column.numbers is not None
    if condition.op == Op.GT:
        return np.asarray(column.numbers > condition.value)
    return np.asarray(column.numbers < condition.value)


def _hits(column: Column, within: np.ndarray, coded: np.ndarray, least: int) -> list[_Hit]:
    """One parameter's conditions over the trials ``within``: each value, and the best
    threshold each way, among those matching at least ``least`` coded trials."""
    hits = []
    if column.labels is not None:
        for label in sorted({lab for lab in column.labels[within] if lab is not None}):
            match = within & (column.labels == label)
            hits.append(_Hit((Condition(column.name, Op.EQ, column.values[label]),), match,
                             int((match & coded).sum())))
    if column.numbers is not None:
        hits += _thresholds(column, within, coded, least)
    return [h for h in hits if h.coded >= least]


def _thresholds(column: Column, within: np.ndarray, coded: np.ndarray,
                least: int) -> list[_Hit]:
    """Cuts at the midpoints between the sorted values seen: per side, the most precise."""
    assert column.numbers is not None
    keep = within & ~np.isnan(column.numbers)
    uniq, index = np.unique(column.numbers[keep], return_inverse=True)
    if len(uniq) < 2:
        return []
    n_at = np.bincount(index, minlength=len(uniq))  # trials at each value, coded ones next
    k_at = np.bincount(index[coded[keep]], minlength=len(uniq))
    n_below, k_below = np.cumsum(n_at)[:-1], np.cumsum(k_at)[:-1]
    sides = ((Op.GT, n_at.sum() - n_below, k_at.sum() - k_below), (Op.LT, n_below, k_below))
    hits = []
    for op, ns, ks in sides:
        able = ks >= least
        if able.any():
            # the most precise cut, by k/(n+1): of two cuts that both hold, the wider one
            best = [i for i in np.lexsort((ks, ks / (ns + 1))) if able[i]][-1]
            condition = Condition(column.name, op, _between(float(uniq[best]),
                                                            float(uniq[best + 1])))
            hits.append(_Hit((condition,), within & _mask(column, condition), int(ks[best])))
    return hits


def _between(low: float, high: float) -> float:
    """The midpoint, rounded to 2 significant digits (more if that leaves the gap)."""
    middle = (low + high) / 2
    for digits in range(2, 16):
        cut = float(f"{middle:.{digits}g}")
        if low < cut < high:
            return cut
    return middle


def mine(code: Code, columns: list[Column], coded: np.ndarray) -> list[Rule]:
    """The best rules for one code: single conditions, and pairs of them where the pair is
    more precise than either part alone; ranked by (precision, coverage)."""
    everyone = np.ones(len(coded), dtype=bool)
    least = max(MIN_CODED, math.ceil(MIN_COVERAGE * coded.sum()))
    singles = [h for column in columns for h in _hits(column, everyone, coded, least)]
    found = list(singles)
    for seed in singles:
        first = seed.conditions[0]
        for column in columns:
            if column.name == first.param:
                continue
            for hit in _hits(column, seed.mask, coded, least):
                second = hit.conditions[0]
                alone = _mask(column, second)
                alone_precision = (alone & coded).sum() / max(int(alone.sum()), 1)
                if hit.precision > max(seed.precision, alone_precision):
                    pair = tuple(sorted((first, second), key=lambda c: (c.op != Op.EQ,
                                                                        c.param)))
                    found.append(_Hit(pair, hit.mask, hit.coded))
    conditional = {c.name for c in columns if c.param is not None and c.param.when}
    kept = sorted((h for h in found if h.precision >= MIN_PRECISION), key=lambda h: (
        -h.precision, -h.coded, len(h.conditions),
        sum(c.param in conditional for c in h.conditions),  # its `when` is a hidden part
        sum(c.op != Op.EQ for c in h.conditions), [c.text for c in h.conditions]))
    rules: list[_Hit] = []
    # a better rule with the same conditions (cut elsewhere), or one over a superset of
    # its trials, leaves nothing for this one to explain
    for hit in kept:
        key = {c.key for c in hit.conditions}
        if len(rules) < TOP_RULES and not any(
                key == {c.key for c in r.conditions} or (hit.mask <= r.mask).all()
                for r in rules):
            rules.append(hit)
    return [Rule(code, h.conditions, h.matched, h.coded, int(coded.sum())) for h in rules]
