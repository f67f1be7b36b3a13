"""A space discovered from a model's own code (a KerasTuner hypermodel's ``build(hp)``),
merged with the file's ``space`` entries.

Config names no model kind and imports no Keras: the models layer discovers the space and
hands it to the loader as raw entries in the file's own syntax (``{int: [1, 4]}``, ``{choice:
[...]}``, a bare value, ``when``), through the ``discover`` hook of ``load``. Here they are
merged: the discovered entries first, and a file entry of the same name fixes or narrows
one, inside what the code declares. The merged space is then validated like any file's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sweeper.config.params import (
    AnyParam,
    ChoiceParam,
    FixedParam,
    FloatParam,
    IntParam,
    Param,
    refusal,
)
from sweeper.config.problems import did_you_mean
from sweeper.config.schema import SweepSpec
from sweeper.config.yamlio import LocatedDocument
from sweeper.errors import Problem

__all__ = ["DiscoveredSpace", "SpaceSource", "describe_entry", "merge_space",
           "narrowing_refusal", "space_sources"]

_PARAM: TypeAdapter[AnyParam] = TypeAdapter(Param)
_LISTED_NAMES = 12  # names an unknown-entry message lists


@dataclass(frozen=True)
class DiscoveredSpace:
    """What a model's code declares: its parameters as raw space entries (file syntax, in
    the order the code declared them), each one's default in the code, and how the code's
    options were mapped where the file syntax has no exact equivalent."""

    entries: dict[str, Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    source: str = ""  # who discovered it, for people: "KerasTuner 1.4.8: build(hp) of m:f"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "entries": self.entries, "defaults": self.defaults,
                "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DiscoveredSpace:
        return cls(dict(data.get("entries") or {}), dict(data.get("defaults") or {}),
                   tuple(data.get("notes") or ()), str(data.get("source") or ""))


@dataclass(frozen=True)
class SpaceSource:
    """Where one parameter of a merged space comes from (``sweeper validate`` shows it)."""

    name: str
    source: str  # "code", "fixed by the file", "narrowed by the file", "never active"


def describe_entry(param: AnyParam) -> str:
    """A parameter as a message names it: ``int [1, 4] step 2``, ``choice of adam, sgd``."""
    if isinstance(param, FixedParam):
        return f"fixed value {param.value!r}"
    if isinstance(param, ChoiceParam):
        return "choice of " + ", ".join(repr(v) for v in param.choice)
    kind = "int" if isinstance(param, IntParam) else "float"
    low, high = param.range_
    step = f" step {param.step}" if param.step not in (None, 1) else ""
    return f"{kind} range [{low}, {high}]{step}{' log' if param.log else ''}"


def _multiple(step: float, of: float) -> bool:
    ratio = step / of
    return abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1


def narrowing_refusal(found: AnyParam, entry: AnyParam) -> str | None:
    """Why the file's ``entry`` does not stay inside the parameter the code declares, else
    None. A value the code fixes (``hp.Fixed``) may be replaced by any entry."""
    if isinstance(found, FixedParam):
        return None
    inside = f"the hypermodel's {describe_entry(found)}"
    if isinstance(entry, FixedParam):
        why = refusal(found, entry.value)
        return None if why is None else f"{entry.value!r} is outside {inside} ({why})"
    if isinstance(entry, ChoiceParam):
        bad = [v for v in entry.choice if refusal(found, v) is not None]
        return None if not bad else (f"{', '.join(repr(v) for v in bad)} "
                                     f"{'is' if len(bad) == 1 else 'are'} outside {inside}")
    if isinstance(found, ChoiceParam):
        return (f"a range cannot narrow {inside}; write a choice of some of its values, or "
                "one of them")
    assert isinstance(entry, IntParam | FloatParam) and isinstance(found, IntParam | FloatParam)
    if type(entry) is not type(found):
        wanted = "int" if isinstance(found, IntParam) else "float"
        return f"{inside} is a{'n' if wanted == 'int' else ''} {wanted} range; write {{{wanted}: " \
               "[low, high]}} inside it"
    (low, high), (found_low, found_high) = entry.range_, found.range_
    if low < found_low or high > found_high:
        return f"[{low}, {high}] reaches outside {inside}"
    if found.step not in (None, 1):
        assert found.step is not None
        if refusal(found, low) is not None:
            return f"{low} is not a value of {inside}: start on its step"
        if entry.step in (None, 1) or not _multiple(float(entry.step or 1), float(found.step)):
            return f"{inside} steps by {found.step}: add step: {found.step} (or a multiple " \
                   "of it)"
    return None


def _with_when(raw: Any, when: dict[str, list[Any]] | None) -> Any:
    """The raw entry with its condition set (a bare value becomes ``{value: ...}``)."""
    entry = dict(raw) if isinstance(raw, dict) else {"value": raw}
    entry.pop("when", None)
    if when:
        entry["when"] = {k: list(v) for k, v in when.items()}
    return entry if when or isinstance(raw, dict) else raw


def _same(a: Any, b: Any) -> bool:
    """Equal as a choice is (1, 1.0 and true are three values to the file)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool) \
        and isinstance(a, str) == isinstance(b, str)


def merge_space(spec: SweepSpec, doc: LocatedDocument,
                discovered: DiscoveredSpace) -> tuple[dict[str, Any], list[Problem]]:
    """The raw space of ``discovered`` with the file's own entries (``spec.space``, as
    ``doc`` holds them) fixing or narrowing parameters of the same name, and the located
    problems of entries that name no discovered parameter or leave its range.

    Conditions come from the code: an entry keeps the discovered ``when``. A condition the
    file's entries make impossible (a parent fixed at another value) removes the parameter;
    one they make certain (a parent fixed at a value it wants) is dropped."""
    written = doc.data.get("space") if isinstance(doc.data, dict) else None
    written = written if isinstance(written, dict) else {}
    found: dict[str, AnyParam] = {}
    for name, raw in discovered.entries.items():
        try:
            found[name] = _PARAM.validate_python(raw)
        except ValidationError:
            continue  # the merged document's validation reports it
    merged = dict(discovered.entries)
    problems: list[Problem] = []
    names = list(discovered.entries)
    for name, raw in written.items():
        entry = spec.space.get(name)
        base = found.get(name)
        where = ("space", name)
        if name not in discovered.entries:
            listed = ", ".join(names[:_LISTED_NAMES]) + (", ..." if len(names) > _LISTED_NAMES
                                                         else "")
            problems.append(doc.problem(where, (
                f"space.{name}: not a hyperparameter of the hypermodel (a hypermodel's space is "
                f"what its build(hp) declares: {listed or 'none'})")
                + did_you_mean(name, names), key=True))
            continue
        if entry is None or base is None:
            continue
        why = narrowing_refusal(base, entry)
        if why is not None:
            problems.append(doc.problem(where, f"space.{name}: {why}"))
            continue
        if entry.when is not None and entry.condition_values() != base.condition_values():
            code = ", ".join(f"{k} in {v}" for k, v in base.condition_values().items())
            problems.append(doc.problem(("space", name, "when"), (
                f"space.{name}.when: the hypermodel's conditions decide when '{name}' applies "
                f"({code or 'always'}: its conditional_scope or parent_name); remove 'when'")))
            continue
        merged[name] = _with_when(raw, base.condition_values() or None)
    if problems:
        return merged, problems
    return _settle_conditions(merged), []


def _settle_conditions(space: dict[str, Any]) -> dict[str, Any]:
    """Conditions the fixed and narrowed parents decide: a parameter whose condition cannot
    hold goes (with those that depend on it), a condition that always holds is dropped."""
    try:
        params = {name: _PARAM.validate_python(raw) for name, raw in space.items()}
    except ValidationError:
        return space  # the merged document's validation reports it
    settled = dict(space)
    changed = True
    while changed:
        changed = False
        for name in list(params):
            if name not in params:
                continue  # gone in this pass
            wanted = params[name].condition_values()
            if not wanted:
                continue
            kept: dict[str, list[Any]] = {}
            never = False
            for parent, values in wanted.items():
                target = params.get(parent)
                if target is None:
                    never = True  # its parent never applies: neither does it
                    break
                if not isinstance(target, ChoiceParam | FixedParam):
                    kept[parent] = values  # a range: the rules refuse it, with its name
                    continue
                holding = [v for v in values if any(_same(v, p) for p in target.values)]
                if not holding:
                    never = True  # the parent never takes those values
                    break
                always = not target.when and all(any(_same(p, v) for v in holding)
                                                 for p in target.values)
                if not always:
                    kept[parent] = holding
            if never:
                del params[name], settled[name]
                changed = True
            elif kept != wanted:
                settled[name] = _with_when(settled[name], kept)
                params[name] = _PARAM.validate_python(settled[name])
                changed = True
    return settled


def space_sources(spec: SweepSpec, doc: LocatedDocument,
                  discovered: DiscoveredSpace) -> list[SpaceSource]:
    """Each parameter of the merged space with where it comes from, then the discovered
    parameters the file's entries made never active."""
    written = doc.data.get("space") if isinstance(doc.data, dict) else None
    written = written if isinstance(written, dict) else {}
    rows = []
    for name, param in spec.space.items():
        if name not in written:
            rows.append(SpaceSource(name, "code"))
        elif isinstance(param, FixedParam):
            rows.append(SpaceSource(name, "fixed by the file"))
        else:
            rows.append(SpaceSource(name, "narrowed by the file"))
    rows += [SpaceSource(name, "never active") for name in discovered.entries
             if name not in spec.space]
    return rows
