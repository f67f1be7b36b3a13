"""Model kinds as plug-ins: ``model.kind`` names one, and the registry returns an object that
checks the file's parameters, describes a configuration and builds its Keras model.

Built in: ``cnn`` and the keras.applications backbones (``backbones``: one class for every
network). Any ``package.module:function`` is a user's builder (``custom``). A new kind is one
new module with a ``ModelKind`` class, plus its line in ``_BUILT_IN``.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sweeper.config.discovered import DiscoveredSpace
from sweeper.config.loaded import LoadedSpec
from sweeper.config.problems import did_you_mean
from sweeper.errors import Problem, SpecError
from sweeper.models.backbones.catalog import BACKBONES
from sweeper.models.inputs import InputInfo, ModelDescription
from sweeper.models.limits import Limits, limit_of

if TYPE_CHECKING:
    import keras

__all__ = ["ConfigCheck", "FeasibilityReport", "Fitter", "ModelKind", "check_spec",
           "discover_space", "feasibility", "fitter", "resolve_kind"]

# A kind's own training call for one configuration (a KerasTuner HyperModel's fit), called as
# model.fit is: (model, x, y, validation_data=..., epochs=..., callbacks=..., ...)
Fitter = Callable[..., Any]

# kind name -> "module:class" of its ModelKind (imported only when that kind is used); a
# class with a ``from_spec(loaded)`` classmethod is made from the file (it serves many names)
_BUILT_IN = {"cnn": "sweeper.models.cnn.kind:CnnKind",
             **{name: "sweeper.models.backbones.kind:BackboneKind" for name in BACKBONES}}
_BUILDER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_resolved: dict[tuple[str, ...], ModelKind] = {}  # once per process


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


def _built_in(loaded: LoadedSpec) -> ModelKind:
    cls = _kind_class(loaded.spec.model.kind)
    from_spec = getattr(cls, "from_spec", None)
    return from_spec(loaded) if from_spec is not None else cls()


def _format_problem(loaded: LoadedSpec) -> Problem | None:
    kind = loaded.spec.model.kind
    if kind in _BUILT_IN or _BUILDER_PATTERN.match(kind):
        return _weights_problem(loaded)
    names = " or ".join(f"'{k}'" for k in _BUILT_IN if k not in BACKBONES)
    return loaded.problem(("model", "kind"), f"model.kind: expected {names} or "
                          f"'package.module:function', got {kind!r} (the keras.applications "
                          f"backbones are kinds too: {', '.join(BACKBONES)})"
                          + did_you_mean(kind, list(_BUILT_IN)))


def _weights_problem(loaded: LoadedSpec) -> Problem | None:
    """``model.weights`` for a kind that takes none (every kind's check sees this one)."""
    model = loaded.spec.model
    if model.weights is None or model.kind in BACKBONES:
        return None
    return loaded.problem(("model", "weights"), f"model.weights applies to keras.applications "
                          f"backbones only (model.kind: resnet50v2, mobilenet_v2, ...), not "
                          f"to {model.kind!r}; remove it", key=True)


def resolve_kind(loaded: LoadedSpec) -> ModelKind:
    """The file's model kind, ready to build, its parameters checked (problems located,
    also for a spec loaded without ``check_spec``)."""
    problem = _format_problem(loaded)
    if problem is not None:
        raise SpecError([problem])
    name = loaded.spec.model.kind
    key = (name, str(loaded.base_dir), str(loaded.spec.model.weights))
    if key not in _resolved or name not in _BUILT_IN:
        if name in _BUILT_IN:
            _resolved[key] = _built_in(loaded)
        else:  # a builder, or a KerasTuner hypermodel (it holds the file's merged space)
            from sweeper.models.hypermodel import user_kind

            _resolved[key] = user_kind(loaded)
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
    return _built_in(loaded).check(loaded)


def discover_space(loaded: LoadedSpec) -> DiscoveredSpace | None:
    """The loader's ``discover`` hook: the space a KerasTuner hypermodel's ``build(hp)``
    declares (``sweeper.models.hypermodel``), discovered on this machine; None for every
    other kind (a builder's module is imported, TensorFlow is not)."""
    if loaded.spec.model.kind in _BUILT_IN or _format_problem(loaded) is not None:
        return None
    from sweeper.models.hypermodel import discover

    return discover(loaded)


def fitter(kind: ModelKind, params: dict[str, Any]) -> Fitter | None:
    """The kind's own training call for ``params`` (a HyperModel's overridden ``fit``), or
    None: the loop fits the model on its pipeline."""
    make = getattr(kind, "fitter", None)
    return None if make is None else make(params)


class ConfigCheck:
    """A kind's verdict on configurations at the data's input: the searcher's feasibility
    test (the architecture, and the file's hard constraints where the kind counts a model
    without building it) and the derived values MLflow logs per trial. Picklable (Tune saves
    the searcher)."""

    limits = Limits()  # a check pickled before constraints existed has none

    def __init__(self, kind: ModelKind, info: InputInfo, limits: Limits | None = None) -> None:
        self.kind = kind
        self.info = info
        self.limits = limits or Limits()

    def __call__(self, params: dict[str, Any]) -> str | None:
        description = self.describe(params)
        return description.infeasible or self.limits.over_size(description.param_count,
                                                                description.flops)

    def describe(self, params: dict[str, Any]) -> ModelDescription:
        return self.kind.describe(params, self.info)

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


def feasibility(kind: ModelKind, configs: list[dict[str, Any]], info: InputInfo,
                limits: Limits | None = None) -> FeasibilityReport:
    check = ConfigCheck(kind, info, limits)
    reasons: Counter[str] = Counter()
    for config in configs:
        why = check(config)
        if why:
            reasons[limit_of(why)] += 1
    return FeasibilityReport(len(configs), sum(reasons.values()), reasons)
