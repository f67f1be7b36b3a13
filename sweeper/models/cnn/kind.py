"""The built-in CNN as a model kind: its parameters checked against the catalog, its
architecture described by the blueprint (no TensorFlow), its model built by ``build``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sweeper.config.loaded import LoadedSpec
from sweeper.config.problems import did_you_mean
from sweeper.errors import Problem
from sweeper.models.checks import unlogged_objectives, value_problems
from sweeper.models.cnn.blueprint import plan
from sweeper.models.cnn.catalog import CNN_HYPERPARAMETERS, with_defaults
from sweeper.models.inputs import InputInfo, ModelDescription

if TYPE_CHECKING:
    import keras

__all__ = ["CNN_METRICS", "CnnKind"]

CNN_METRICS = ("val_accuracy", "val_loss", "accuracy", "loss")


class CnnKind:
    """``model.kind: cnn``."""

    name = "cnn"
    describes = True

    def check(self, loaded: LoadedSpec) -> list[Problem]:
        return _check_names(loaded) + _check_objective(loaded)

    def describe(self, params: dict[str, Any], info: InputInfo) -> ModelDescription:
        bp = plan(params, info.input_shape, info.num_classes)
        if not bp.feasible:
            return ModelDescription(infeasible=bp.infeasible)
        return ModelDescription(param_count=bp.param_count, flops=bp.flops)

    def build(self, params: dict[str, Any], info: InputInfo) -> keras.Model:
        from sweeper.models.cnn.build import build_cnn

        return build_cnn(params, info)

    def defaults(self) -> dict[str, Any]:
        return with_defaults({})


def _check_objective(loaded: LoadedSpec) -> list[Problem]:
    return unlogged_objectives(loaded, CNN_METRICS, "the built-in cnn")


def _check_names(loaded: LoadedSpec) -> list[Problem]:
    spec, doc = loaded.spec, loaded.doc
    problems: list[Problem] = []
    known = list(CNN_HYPERPARAMETERS)
    for name, param in spec.space.items():
        rule = CNN_HYPERPARAMETERS.get(name)
        if rule is None:
            problems.append(doc.problem(
                ("space", name),
                f"space.{name}: the built-in cnn model has no parameter '{name}'"
                + (did_you_mean(name, known) or f"; known: {', '.join(known)}")
                + " (a custom builder, model.kind: package.module:function, accepts any name)",
                key=True))
            continue
        problems += value_problems(loaded, name, param, rule)
    return problems
