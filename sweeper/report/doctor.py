"""``sweeper doctor``: which problems a sweep's trials had, which parameter values explain
them, and how to change the search space so the next sweep avoids them.

It reads trials.csv's ``diagnosis`` column (each trial's finding codes) and the spec's space,
and imports neither TensorFlow nor Ray, so it answers beside a live sweep.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sweeper.config.params import AnyParam, ChoiceParam, FloatParam, IntParam
from sweeper.errors import UserInputError
from sweeper.findings import FIXES, SEPARATOR, Code
from sweeper.notify import Notifier
from sweeper.report.rules import (
    MIN_CODED,
    MIN_PRECISION,
    Column,
    Condition,
    Op,
    Rule,
    columns_of,
    is_number,
    mine,
    plain,
    show,
)
from sweeper.status import Status
from sweeper.store.specs import load_spec_for
from sweeper.store.tables import DIAGNOSIS_COLUMN, trials_frame

__all__ = ["DOCTOR_MD", "CodeCount", "DoctorFormat", "DoctorReport", "Suggestion", "diagnose",
           "diagnose_sweep", "render_doctor", "write_doctor"]

DOCTOR_MD = "doctor.md"  # the report a finished sweep writes beside trials.csv
# Codes batch normalization cures: a rule that blames batch_norm=false means "turn it on".
BATCH_NORM_CODES = frozenset({Code.EXPLODING_GRADIENTS, Code.VANISHING_GRADIENTS,
                              Code.VAL_AT_CHANCE, Code.DEAD_RELU, Code.DIVERGING})
REGULARIZERS = ("dropout", "augmentation")  # what overfitting wants more of


class DoctorFormat(StrEnum):
    MARKDOWN = "markdown"
    JSON = "json"


@dataclass(frozen=True)
class Suggestion:
    """A change to the search space, and the code (and rule, if one) it comes from."""

    code: Code
    text: str
    rule: Rule | None = None

    @property
    def source(self) -> str:
        return f"{self.code}: {self.rule.condition_text}" if self.rule else f"{self.code}"


@dataclass(frozen=True)
class CodeCount:
    code: Code
    trials: int
    share: float  # of the trials examined

    @property
    def fix(self) -> str:
        return FIXES[self.code]


@dataclass(frozen=True)
class DoctorReport:
    """What ``sweeper doctor`` says about one sweep."""

    name: str
    trials: int  # examined: ended after training at least an epoch, or failed
    diagnosed: bool  # False: trials.csv has no diagnosis column (a sweep from before it)
    affected: int  # examined trials with at least one code
    counts: tuple[CodeCount, ...]
    rules: tuple[Rule, ...]
    suggestions: tuple[Suggestion, ...]

    @property
    def healthy(self) -> bool:
        return not self.counts

    def rules_for(self, code: Code) -> list[Rule]:
        return [r for r in self.rules if r.code == code]

    def to_json(self) -> dict[str, Any]:
        return {
            "sweep": self.name, "trials": self.trials, "diagnosed": self.diagnosed,
            "affected": self.affected,
            "findings": [{"code": c.code.value, "trials": c.trials, "share": c.share,
                          "fix": c.fix} for c in self.counts],
            "rules": [{"code": r.code.value, "text": r.text, "matched": r.matched,
                       "coded": r.coded, "total": r.total, "precision": r.precision,
                       "coverage": r.coverage,
                       "conditions": [{"param": c.param, "op": c.op.value,
                                       "value": plain(c.value)} for c in r.conditions]}
                      for r in self.rules],
            "suggestions": [{"code": s.code.value, "text": s.text,
                             "rule": s.rule.text if s.rule else None}
                            for s in self.suggestions]}


def diagnose_sweep(name: str, runs_dir: Path) -> DoctorReport:
    """The report of a sweep on disk (bad input when there is no such sweep)."""
    trials = trials_frame(name, runs_dir)
    return diagnose(name, trials, load_spec_for(name, runs_dir).spec.space)


def diagnose(name: str, trials: pd.DataFrame, space: Mapping[str, AnyParam]) -> DoctorReport:
    """The report of a trials table: counts per code, the rules that explain each code, and
    the space changes those rules suggest."""
    diagnosed = DIAGNOSIS_COLUMN in trials.columns
    if trials.empty:
        return DoctorReport(name, 0, diagnosed, 0, (), (), ())
    epochs = pd.to_numeric(trials["epochs"], errors="coerce").fillna(0) \
        if "epochs" in trials else pd.Series(0, index=trials.index)
    status = [Status(s) for s in trials["status"]]
    examined = trials[[s.terminal and (s == Status.FAILED or e > 0)
                       for s, e in zip(status, epochs, strict=True)]]
    cells = examined[DIAGNOSIS_COLUMN] if diagnosed else pd.Series([""] * len(examined))
    codes = [set(_codes(cell)) for cell in cells]
    columns = columns_of(examined, space)
    masks = {code: np.array([code in found for found in codes], dtype=bool) for code in Code}
    counts, rules, suggestions = [], [], []
    # the commonest code first (sorted is stable: ties keep Code's order)
    for code, coded in sorted(masks.items(), key=lambda item: -int(item[1].sum())):
        if not coded.any():
            continue
        counts.append(CodeCount(code, int(coded.sum()), float(coded.sum() / len(examined))))
        found = mine(code, columns, coded) if coded.sum() >= MIN_CODED else []
        rules += found
        suggestions += _suggestions(code, found, columns, coded, space)
    return DoctorReport(name, len(examined), diagnosed, sum(1 for found in codes if found),
                        tuple(counts), tuple(rules), tuple(suggestions))


def _codes(cell: Any) -> list[Code]:
    """A diagnosis cell's codes; a code this version does not know is left out."""
    if not isinstance(cell, str):
        return []
    known = {c.value for c in Code}
    return [Code(p.strip()) for p in cell.split(SEPARATOR) if p.strip() in known]


def _span(param: AnyParam | None) -> str:
    """What the space allows now: '[low, high]' or the list of choices."""
    if isinstance(param, IntParam | FloatParam):
        return f"[{show(param.range_[0])}, {show(param.range_[1])}]"
    if isinstance(param, ChoiceParam):
        return f"[{', '.join(show(c) for c in param.choice)}]"
    return ""


def _choice_change(name: str, choices: list[Any], bad: list[Any]) -> str | None:
    """Drop the bad choices, or fix the parameter when one value is left."""
    keep = [c for c in choices if all(show(c) != show(b) for b in bad)]
    if not bad or not keep:
        return None
    if len(keep) == 1:
        return f"fix {name}: {show(keep[0])}"
    return f"drop {', '.join(show(c) for c in bad)} from {name}"


def _remedy(condition: Condition, param: AnyParam | None) -> str | None:
    """The space change that leaves out the trials ``condition`` matches."""
    name, cut = condition.param, show(condition.value)
    if isinstance(param, ChoiceParam):
        return _choice_change(name, param.choice, [c for c in param.choice
                                                   if condition.holds(c)])
    if condition.op == Op.EQ:
        return f"avoid {name}={cut}"
    now = f" (now {_span(param)})" if param is not None else ""
    return f"narrow {name} to {'below' if condition.op == Op.GT else 'above'} {cut}{now}"


def _suggestions(code: Code, rules: list[Rule], columns: list[Column], coded: np.ndarray,
                 space: Mapping[str, AnyParam]) -> list[Suggestion]:
    """Space changes from the rules (undoing any one condition of a rule avoids it), then
    the code's own for the parameters no rule named."""
    out: list[Suggestion] = []
    named: set[str] = set()
    for rule in rules:
        named.update(c.param for c in rule.conditions)
        if code in BATCH_NORM_CODES and "batch_norm" in space and any(
                c.param == "batch_norm" and c.op == Op.EQ and show(c.value) == "false"
                for c in rule.conditions):
            remedies = ["fix batch_norm: true"]
        else:
            remedies = [r for c in rule.conditions
                        if (r := _remedy(c, space.get(c.param))) is not None]
        text = " or ".join(remedies)
        if remedies and all(s.text != text for s in out):
            out.append(Suggestion(code, text, rule))
    by_name = {c.name: c for c in columns}
    for name, param in space.items():
        column = by_name.get(name)
        seen = np.array([]) if column is None or column.numbers is None else \
            column.numbers[coded & ~np.isnan(column.numbers)]
        own = None if name in named else _own(code, name, param, seen)
        if own:
            out.append(Suggestion(code, own))
    return out


def _own(code: Code, name: str, param: AnyParam, seen: np.ndarray) -> str | None:
    """The code's own change to a numeric parameter: weaker augmentation for
    over_augmentation, more dropout or augmentation for overfitting. ``seen``: its values
    in the trials with the code."""
    words = name.split("_")
    if isinstance(param, ChoiceParam) and all(is_number(c) for c in param.choice):
        low = min(param.choice)
    elif isinstance(param, IntParam | FloatParam):
        low = param.range_[0]
    else:
        return None
    if code == Code.OVER_AUGMENTATION and "augmentation" in words and len(seen):
        weakest = float(seen.min())
        if isinstance(param, ChoiceParam):
            return _choice_change(name, param.choice, [c for c in param.choice
                                                       if c >= weakest])
        if weakest <= low:
            return f"lower {name} (now {_span(param)}): even its weakest values had {code}"
        return (f"narrow {name} to below {show(weakest)} (now {_span(param)}; the weakest "
                f"value with {code})")
    if code == Code.OVERFITTING and any(word in words for word in REGULARIZERS):
        median = f"; its {code} trials had a median of {show(float(np.median(seen)))}" \
            if len(seen) else ""
        return f"shift {name} upward (now {_span(param)}{median})"
    return None


def render_doctor(report: DoctorReport, fmt: str | DoctorFormat) -> str:
    """The report as Markdown (for people and MLflow) or JSON (for scripts)."""
    try:
        form = DoctorFormat(fmt)
    except ValueError:
        raise UserInputError(f"doctor: no format {fmt!r}; formats: "
                             f"{', '.join(f.value for f in DoctorFormat)}") from None
    if form == DoctorFormat.JSON:
        return json.dumps(report.to_json(), indent=2, sort_keys=True)
    lines = [f"# sweeper doctor: {report.name}", ""]
    lines.append(f"{report.trials} trials examined (ended after training, or failed)"
                 + (f"; {report.affected} with a diagnosed problem." if report.affected
                    else "."))
    if not report.diagnosed:
        lines += ["", "This sweep's trials.csv has no diagnosis column (it ran before "
                      "diagnosis existed)."]
    if report.trials == 0:
        return "\n".join([*lines, "", "no trial has trained yet: nothing to diagnose"])
    if report.healthy:
        return "\n".join([*lines, "", "no findings: every trial trained without a diagnosed "
                                      "problem"])
    lines += ["", "| code | trials | share | fix |", "|:--|--:|--:|:--|"]
    lines += [f"| {c.code} | {c.trials} | {c.share:.0%} | {c.fix.replace('|', '/')} |"
              for c in report.counts]
    lines += ["", "## Rules", ""]
    for count in report.counts:
        found = report.rules_for(count.code)
        lines += [f"- {count.code}: {rule.text}" for rule in found]
        if not found:
            why = ("one trial, too few for a rule" if count.trials < MIN_CODED else
                   f"no parameter condition holds for {MIN_PRECISION:.0%} of the trials it "
                   "matches")
            lines.append(f"- {count.code}: {why}")
    lines += ["", "## Suggestions", ""]
    lines += [f"- {s.text} (from {s.source})" for s in report.suggestions] or [
        "- none from the rules; see each code's fix above"]
    return "\n".join(lines)


def write_doctor(name: str, trials: pd.DataFrame, space: Mapping[str, AnyParam], path: Path,
                 notifier: Notifier) -> Path | None:
    """Write the Markdown report to ``path``; never raises (a report that fails must not
    fail a finished sweep): a failure is a warning and None."""
    try:
        text = render_doctor(diagnose(name, trials, space), DoctorFormat.MARKDOWN)
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(text + "\n")
        tmp.replace(path)
        return path
    except Exception as exc:  # the doctor is a report, not the sweep
        notifier.warn(f"the doctor's report failed: {type(exc).__name__}: {exc}")
        return None
