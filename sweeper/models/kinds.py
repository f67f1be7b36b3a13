"""Model kinds as plug-ins: ``model.kind`` names one, and the registry returns an object that
checks the file's parameters, describes a configuration and builds its Keras model.

Built in: ``cnn``. Any ``package.module:function`` is a user's builder (``custom``). A new
kind is one new module with a ``ModelKind`` class, plus its line in ``_BUILT_IN``.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sweeper.config.loaded import LoadedSpec
from sweeper.config.problems import did_you_mean
from sweeper.errors import Problem, SpecError
from sweeper.models.inputs import InputInfo, ModelDescription

if TYPE_CHECKING:
    import keras

__all__ = ["ConfigCheck", "FeasibilityReport", "ModelKind", "check_spec", "feasibility",
           "resolve_kind"]

# kind name -> "module:class" of its ModelKind (imported only when that kind is used)
_BUILT_IN = {"cnn": "sweeper.models.cnn.kind:CnnKind"}
_BUILDER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_resolved: dict[tuple[str, str], ModelKind] = {}  # once per process


class ModelKind(Protocol):
    """What sweeper needs of a kind of model. Instances are pickled to Ray's workers."""

    name: str
    describes: bool  # whether describe() knows anything before building

    def check(self, loaded: LoadedSpec) -> list[Problem]:
        """Located problems with the file's space and objective for this kind."""

    def describe(self, params: dict[str, Any], info: InputInfo) -> ModelDescription:
        """Parameter count, FLOPs and feasibility where known, without TensorFlow."""

    def build(self, params: dict[str, Any], info: InputInfo) -> keras.Model:
        """The compiled Keras model of one configuration."""

    def defaults(self) -> dict[str, Any]:
        """The value each parameter takes when the file leaves it out (a sweep's first
        trial takes them where the space allows)."""


def _kind_class(name: str) -> Any:
    module, _, cls = _BUILT_IN[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def _format_problem(loaded: LoadedSpec) -> Problem | None:
    kind = loaded.spec.model.kind
    if kind in _BUILT_IN or _BUILDER_PATTERN.match(kind):
        return None
    names = " or ".join(f"'{k}'" for k in _BUILT_IN)
    return loaded.problem(("model", "kind"), f"model.kind: expected {names} or "
                          f"'package.module:function', got {kind!r}"
                          + did_you_mean(kind, list(_BUILT_IN)))


def resolve_kind(loaded: LoadedSpec) -> ModelKind:
    """The file's model kind, ready to build, its parameters checked (problems located,
    also for a spec loaded without ``check_spec``)."""
    problem = _format_problem(loaded)
    if problem is not None:
        raise SpecError([problem])
    name = loaded.spec.model.kind
    key = (name, str(loaded.base_dir))
    if key not in _resolved:
        if name in _BUILT_IN:
            _resolved[key] = _kind_class(name)()
        else:
            from sweeper.models.custom import CustomKind

            _resolved[key] = CustomKind.resolve(loaded)
    kind = _resolved[key]
    problems = kind.check(loaded)
    if problems:
        raise SpecError(problems)
    return kind


def check_spec(loaded: LoadedSpec) -> list[Problem]:
    """A ``config`` check: the file's kind and its parameters (custom builders: any name)."""
    problem = _format_problem(loaded)
    if problem is not None:
        return [problem]
    name = loaded.spec.model.kind
    if name not in _BUILT_IN:
        return []  # a builder is imported (and its problems located) by resolve_kind
    kind: ModelKind = _kind_class(name)()
    return kind.check(loaded)


class ConfigCheck:
    """A kind's verdict on configurations at the data's input: the searcher's feasibility
    test and the derived values MLflow logs per trial. Picklable (Tune saves the searcher)."""

    def __init__(self, kind: ModelKind, info: InputInfo) -> None:
        self.kind = kind
        self.info = info

    def __call__(self, params: dict[str, Any]) -> str | None:
        return self.kind.describe(params, self.info).infeasible

    def logged(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self.kind.describe(params, self.info).logged())


@dataclass
class FeasibilityReport:
    """How many sampled configurations cannot be built, and the most common reasons."""

    sampled: int
    infeasible: int
    reasons: Counter[str]

    @property
    def all_infeasible(self) -> bool:
        return self.sampled > 0 and self.infeasible == self.sampled


def feasibility(kind: ModelKind, configs: list[dict[str, Any]],
                info: InputInfo) -> FeasibilityReport:
    reasons: Counter[str] = Counter()
    for config in configs:
        why = kind.describe(config, info).infeasible
        if why:
            reasons[why] += 1
    return FeasibilityReport(len(configs), sum(reasons.values()), reasons)
