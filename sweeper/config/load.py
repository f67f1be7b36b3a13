"""Loading a search-space file: YAML with positions, the schema, the rules, and the checks
the caller passes in (each model kind checks its own parameters, so config names none).

A caller that knows models may also pass ``discover``: the space a model's own code declares
(a KerasTuner hypermodel's), merged with the file's ``space`` before the rules run."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sweeper.config.discovered import DiscoveredSpace, merge_space
from sweeper.config.loaded import LoadedSpec
from sweeper.config.problems import pydantic_problems
from sweeper.config.rules import (
    check_conditions,
    check_data,
    check_names,
    check_search,
    check_start,
)
from sweeper.config.schema import SweepSpec
from sweeper.config.yamlio import LocatedDocument, load_file, load_text
from sweeper.errors import Problem, SpecError

__all__ = ["DiscoverHook", "SpecCheck", "load", "loads", "validate_document"]

SpecCheck = Callable[[LoadedSpec], list[Problem]]
# The space a file's model declares in its code (None: the file's space is the whole space).
# It may raise SpecError, located in the file (a model that cannot be imported).
DiscoverHook = Callable[[LoadedSpec], DiscoveredSpace | None]


def _schema(raw: dict[str, Any], doc: LocatedDocument) -> SweepSpec:
    try:
        return SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(pydantic_problems(exc, doc)) from None


def validate_document(doc: LocatedDocument, default_name: str, base_dir: Path,
                      checks: Sequence[SpecCheck] = (),
                      discover: DiscoverHook | None = None) -> LoadedSpec:
    """Schema, rules and ``checks``; raise SpecError listing every problem found.

    ``discover``: called once the file passes the schema; the space it returns comes
    first, the file's entries fix or narrow its parameters (``config.discovered``), and
    the merged file is validated again, so the rules see the whole space."""
    if not isinstance(doc.data, dict):
        raise SpecError([doc.problem((), "expected a mapping of sections (data, space, budget, "
                                          f"...), got {type(doc.data).__name__}")])
    raw = dict(doc.data)
    raw.setdefault("name", default_name)
    spec = _schema(raw, doc)
    discovered = discover(LoadedSpec(spec, doc, base_dir, [])) if discover else None
    if discovered is not None:
        space, merge_problems = merge_space(spec, doc, discovered)
        if merge_problems:
            raise SpecError(merge_problems)
        raw["space"] = space
        spec = _schema(raw, replace(doc, data=raw))  # located where the file has them
    problems = check_names(spec, doc) + check_conditions(spec, doc) + check_start(spec, doc)
    search_problems, warnings = check_search(spec, doc)
    loaded = LoadedSpec(spec, doc, base_dir, warnings, discovered)
    problems += search_problems
    for check in checks:
        problems += check(loaded)
    problems += check_data(loaded)
    if problems:
        raise SpecError(problems)
    return loaded


def load(path: str | Path, checks: Sequence[SpecCheck] = (),
         discover: DiscoverHook | None = None) -> LoadedSpec:
    """Load and validate a search-space file."""
    path = Path(path)
    doc = load_file(path)
    return validate_document(doc, _default_name(path.stem), path.resolve().parent, checks,
                             discover)


def loads(text: str, file: str = "<string>", base_dir: Path | None = None,
          checks: Sequence[SpecCheck] = (), discover: DiscoverHook | None = None) -> LoadedSpec:
    """Load and validate search-space text (tests, notebooks, a sweep's recorded file)."""
    doc = load_text(text, file)
    return validate_document(doc, _default_name(Path(file).stem), base_dir or Path.cwd(),
                             checks, discover)


def _default_name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "-", stem).lstrip("._-") or "sweep"
    return name[:100]
