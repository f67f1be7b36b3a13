"""KerasTuner hypermodels as a model kind: ``model.kind: module:build_model`` (a function of
one argument, ``hp``), ``module:MyHyperModel`` (a ``keras_tuner.HyperModel`` subclass, created
with no arguments) or ``module:hypermodel`` (a HyperModel instance), run unchanged.

Where each part runs (Tune asks the searcher for a configuration before any worker has built
a model, so the space must be known on the driver first):

- Discovery, once, on the driver, when the file is loaded (``validate``, ``run``, ``train``):
  KerasTuner's own tuner constructor builds the model with its defaults, and again until
  every ``conditional_scope`` was active (``_populate_initial_space``); sweeper then builds it
  with each hp at its largest value and each choice once, to meet the hps KerasTuner would
  only add as its trials met them (``for i in range(hp.Int("layers", 1, 4))``), and calls an
  overridden ``fit`` once with a stand-in model, so its hps (a tuned ``batch_size``) count.
  The space is recorded in the sweep's folder: resume, export and results never import it.
- Sampling: on the driver, by the sweep's Optuna sampler, define-by-run over that space.
- Building: on the worker, once per trial: ``build(hp)`` with ``hp`` holding the space and
  the trial's values; ``fit(hp, model, ...)`` too when the HyperModel overrides it.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sweeper.config.discovered import DiscoveredSpace
from sweeper.config.loaded import LoadedSpec
from sweeper.config.params import AnyParam
from sweeper.errors import Problem
from sweeper.models.custom import CustomKind
from sweeper.models.hp_discovery import (
    EXPLORE_BUILDS,
    discover_space,
    overrides_fit,
    problem,
    where,
)
from sweeper.models.hp_space import declare
from sweeper.models.inputs import InputInfo, ModelDescription

if TYPE_CHECKING:
    import keras

__all__ = ["EXPLORE_BUILDS", "HypermodelKind", "discover", "hypermodel_form", "user_kind"]

_targets: dict[str, Any] = {}  # "module:attr" -> the hypermodel, once per process
_discovered: dict[tuple[str, tuple[str, ...]], DiscoveredSpace] = {}  # once per process


def hypermodel_form(obj: Any) -> str | None:
    """``"class"``, ``"instance"`` or ``"function"`` for a KerasTuner hypermodel, None for
    a builder (``build(params, input_shape, num_classes)``). A function is a hypermodel when
    it needs exactly one positional argument, as ``build_model(hp)`` does."""
    keras_tuner = sys.modules.get("keras_tuner")  # a module that subclasses it imported it
    if keras_tuner is not None:
        if isinstance(obj, type) and issubclass(obj, keras_tuner.HyperModel):
            return "class"
        if isinstance(obj, keras_tuner.HyperModel):
            return "instance"
    if isinstance(obj, type) or not callable(obj):
        return None
    try:
        parameters = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = [p.kind for p in parameters]
    required = [p for p in parameters if p.default is inspect.Parameter.empty and p.kind in (
        inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    one = len(required) == 1 and inspect.Parameter.VAR_POSITIONAL not in kinds
    return "function" if one else None  # build_model(hp, extra=None) too: called as build(hp)


def _instance(target: Any, form: str, name: str, loaded: LoadedSpec | None) -> Any:
    """The hypermodel ``target`` names: a class is created with no arguments."""
    if form != "class":
        return target
    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    required = [p.name for p in parameters if p.default is inspect.Parameter.empty
                and p.kind not in (inspect.Parameter.VAR_POSITIONAL,
                                   inspect.Parameter.VAR_KEYWORD)]
    if required and loaded is not None:
        attribute = name.partition(":")[2]
        raise problem(loaded, (
            f"{name} is a keras_tuner.HyperModel whose __init__ needs "
            f"{', '.join(required)}; sweeper creates it with no arguments: give "
            f"{'them' if len(required) > 1 else 'it'} a default, or name an instance made in "
            f"the module instead (hypermodel = {attribute}(...), model.kind: "
            f"{name.partition(':')[0]}:hypermodel)"))
    try:
        return target()
    except Exception as exc:
        if loaded is None:
            raise
        raise problem(loaded, f"creating {name}() raised {type(exc).__name__}: {exc}"
                       + where(exc)) from None


def discover(loaded: LoadedSpec) -> DiscoveredSpace | None:
    """The space a hypermodel's code declares, as raw entries (None: ``model.kind`` is a
    builder). Imports the module; KerasTuner and TensorFlow only for a hypermodel."""
    builder, target = CustomKind.target(loaded)
    form = hypermodel_form(target)
    if form is None:
        return None
    key = (builder.name, builder.search_dirs)
    if key not in _discovered:
        hypermodel = _instance(target, form, builder.name, loaded)
        _targets[builder.name] = hypermodel
        _discovered[key] = discover_space(hypermodel, builder.name, loaded)
    return _discovered[key]


class HypermodelKind:
    """Builds a trial's model with the hypermodel's ``build(hp)``; knows nothing of a
    configuration before building it. Picklable: the hypermodel itself is imported again
    by each worker process."""

    describes = False

    def __init__(self, name: str, search_dirs: tuple[str, ...], form: str,
                 space: dict[str, AnyParam], defaults: dict[str, Any],
                 overrides_fit: bool) -> None:
        self.name = name
        self.search_dirs = search_dirs
        self.form = form
        self.space = space
        self._defaults = defaults
        self.overrides_fit = overrides_fit

    @classmethod
    def resolve(cls, loaded: LoadedSpec, builder: CustomKind, target: Any) -> HypermodelKind:
        form = hypermodel_form(target)
        assert form is not None
        if loaded.discovered is None:
            raise problem(loaded, (
                f"{builder.name} is a KerasTuner hypermodel, whose space is discovered when the "
                "file is loaded: load it with sweeper.api.load_spec (or pass "
                "discover=sweeper.models.kinds.discover_space to sweeper.config.load)"))
        if builder.name not in _targets:
            _targets[builder.name] = _instance(target, form, builder.name, loaded)
        return cls(builder.name, builder.search_dirs, form, dict(loaded.spec.space),
                   dict(loaded.discovered.defaults), overrides_fit(_targets[builder.name]))

    def check(self, loaded: LoadedSpec) -> list[Problem]:
        return []  # the loader checked the file's entries against the discovered space

    def describe(self, params: dict[str, Any], info: InputInfo) -> ModelDescription:
        return ModelDescription()

    def defaults(self) -> dict[str, Any]:
        """The defaults the code gives each hp (KerasTuner's first trial takes them too)."""
        return dict(self._defaults)

    def _hypermodel(self) -> Any:
        if self.name not in _targets:  # a worker process: import and create it once
            target = CustomKind(self.name, self.search_dirs)._function()
            _targets[self.name] = _instance(target, self.form, self.name, None)
        return _targets[self.name]

    def build(self, params: dict[str, Any], info: InputInfo) -> keras.Model:
        """``build(hp)`` with the trial's values; inputs are raw pixels at the data's size."""
        import keras

        hypermodel = self._hypermodel()
        build = hypermodel if self.form == "function" else hypermodel.build
        model = build(declare(self.space, params))
        if not isinstance(model, keras.Model):
            raise TypeError(f"build(hp) of {self.name} returned {type(model).__name__}, "
                            "expected a keras.Model")
        if not getattr(model, "compiled", False):
            raise TypeError(
                f"build(hp) of {self.name} returned a model that is not compiled; a KerasTuner "
                "hypermodel compiles its model before returning it: model.compile(optimizer="
                "..., loss=..., metrics=['accuracy'])")
        return model

    def fitter(self, params: dict[str, Any]) -> Callable[..., Any] | None:
        """The HyperModel's own ``fit(hp, model, ...)`` with the trial's values, when it
        overrides KerasTuner's (None: the loop fits the model itself)."""
        if not self.overrides_fit:
            return None
        hypermodel, space, name = self._hypermodel(), self.space, self.name

        def fit(model: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return hypermodel.fit(declare(space, params), model, *args, **kwargs)
            except TypeError as exc:
                if "multiple values for keyword argument" not in str(exc):
                    raise
                raise TypeError(
                    f"{exc}: sweeper calls {name}'s fit(hp, model, x, y, "
                    f"{', '.join(f'{k}=...' for k in kwargs)}); a fit that sets one of these "
                    "itself cannot run under sweeper (epochs are budget.max_epochs and the "
                    "scheduler's)") from exc

        return fit


def user_kind(loaded: LoadedSpec) -> Any:
    """The kind of a ``module:attr`` model: a hypermodel, or a builder (``CustomKind``)."""
    builder, target = CustomKind.target(loaded)
    if hypermodel_form(target) is None:
        return CustomKind.resolve(loaded)
    return HypermodelKind.resolve(loaded, builder, target)
