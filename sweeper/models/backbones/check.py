"""A backbone's checks of the file, located like the CNN's: the space's names and values,
``model.weights`` (a local file, since nothing is downloaded at run time) and the objective.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sweeper.config.loaded import LoadedSpec
from sweeper.config.problems import did_you_mean
from sweeper.errors import Problem
from sweeper.models.backbones.catalog import (
    BACKBONES,
    NETWORK_KNOBS,
    Network,
    backbone_hyperparameters,
)
from sweeper.models.backbones.counts import COUNTS
from sweeper.models.checks import unlogged_objectives, value_problems
from sweeper.models.cnn.catalog import Hyperparameter
from sweeper.models.cnn.kind import CNN_METRICS

__all__ = ["WEIGHTS_SUFFIXES", "check_backbone", "rules", "weights_path"]

# what keras' Model.load_weights reads (legacy .h5 / .hdf5, .weights.h5, a .keras archive)
WEIGHTS_SUFFIXES = (".h5", ".hdf5", ".keras", ".weights.json")


def weights_path(loaded: LoadedSpec) -> Path | None:
    """``model.weights`` as a path: relative ones are read from the file's folder."""
    weights = loaded.spec.model.weights
    if weights is None:
        return None
    path = Path(weights).expanduser()
    return path if path.is_absolute() else loaded.base_dir / path


def rules(network: Network, weights: bool) -> dict[str, Hyperparameter]:
    """The parameters ``network`` takes; ``trainable_layers`` is bounded by its layers."""
    table = backbone_hyperparameters(network, weights)
    if "trainable_layers" in table:
        most = max(c.weighted_layers for c in COUNTS.get(network.name, {}).values())
        table["trainable_layers"] = replace(table["trainable_layers"], high=most)
    return table


def check_backbone(loaded: LoadedSpec, network: Network) -> list[Problem]:
    """Every problem of the file for ``network``, located."""
    return (_check_weights(loaded) + _check_names(loaded, network)
            + _check_objective(loaded, network))


def _check_weights(loaded: LoadedSpec) -> list[Problem]:
    path = weights_path(loaded)
    if path is None:
        return []
    where = ("model", "weights")
    if not path.name.endswith(WEIGHTS_SUFFIXES):
        return [loaded.problem(where, f"model.weights: expected a Keras weights file "
                               f"({', '.join(WEIGHTS_SUFFIXES)}), got {path.name!r}")]
    if not path.is_file():
        return [loaded.problem(where, f"model.weights: no file {path} (relative paths are read "
                               "from the search-space file's folder; nothing is downloaded)")]
    return []


def _check_objective(loaded: LoadedSpec, network: Network) -> list[Problem]:
    return unlogged_objectives(loaded, CNN_METRICS, f"the {network.name} backbone")


def _unknown(network: Network, name: str, known: list[str]) -> str:
    if name in NETWORK_KNOBS:
        takers = [n.name for n in BACKBONES.values()
                  if (n.alphas if name == "alpha" else n.minimalistic)]
        return (f"space.{name}: {network.name} has no {name}; {', '.join(takers)} take it")
    if name == "trainable_layers":
        return ("space.trainable_layers: fine-tuning needs model.weights, a local weights "
                "file to start from; without it every layer trains from scratch")
    return (f"space.{name}: the keras.applications backbone {network.name} has no parameter "
            f"'{name}'" + (did_you_mean(name, known) or f"; known: {', '.join(known)}")
            + " (a custom builder, model.kind: package.module:function, accepts any name)")


def _check_names(loaded: LoadedSpec, network: Network) -> list[Problem]:
    table = rules(network, loaded.spec.model.weights is not None)
    problems: list[Problem] = []
    for name, param in loaded.spec.space.items():
        rule = table.get(name)
        if rule is None:
            problems.append(loaded.problem(("space", name), _unknown(network, name,
                                                                       list(table)), key=True))
        else:
            problems += value_problems(loaded, name, param, rule)
    return problems
