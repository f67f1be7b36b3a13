"""How a KerasTuner hypermodel's space is discovered on the driver: KerasTuner's own tuner
constructor (``declare_hyperparameters`` and ``_populate_initial_space``), then builds with
other values than the defaults, counted and timed, and one call of an overridden ``fit`` with a
stand-in model (README: "KerasTuner hypermodels", "What runs where")."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from sweeper.config.discovered import DiscoveredSpace
from sweeper.config.loaded import LoadedSpec
from sweeper.errors import SpecError
from sweeper.models.hp_space import entries

__all__ = ["EXPLORE_BUILDS", "EXPLORE_SECONDS", "discover_space", "overrides_fit", "problem",
           "where"]

EXPLORE_BUILDS = 32  # builds at most to meet the hps other values declare
EXPLORE_SECONDS = 20.0
_WHERE = ("model", "kind")
_PACKAGE = str(Path(__file__).resolve().parents[1])  # sweeper's own frames are not the user's


def problem(loaded: LoadedSpec, message: str) -> SpecError:
    return SpecError([loaded.problem(_WHERE, f"model.kind: {message}")])


def where(exc: BaseException) -> str:
    """The innermost frame of the user's code (not a library's) an exception came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if "site-packages" not in f.filename
           and not f.filename.startswith(_PACKAGE)] or frames
    return f" ({own[-1].filename}:{own[-1].lineno})" if own else ""


def _grow_gpu_memory() -> None:
    """Discovery builds models in the driver process: with memory growth, TensorFlow there
    takes the little GPU memory those builds need, not (its default) all of every GPU,
    which the trials on this machine need. Only before TensorFlow has started."""
    if "tensorflow" in sys.modules:
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError, ValueError):
            tf.config.experimental.set_memory_growth(gpu, True)


class _CountedBuilds:
    """Every build(hp) of the discovery after KerasTuner's own, counted and timed; each
    model is dropped as soon as it is built (the driver keeps none)."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self.build = build
        self.count = 0
        self.started = time.monotonic()

    @property
    def left(self) -> bool:
        return self.count < EXPLORE_BUILDS and self.seconds < EXPLORE_SECONDS

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def __call__(self, hp: Any) -> Any:
        import keras

        self.count += 1
        try:
            return self.build(hp)
        finally:
            keras.backend.clear_session()


def discover_space(hypermodel: Any, name: str, loaded: LoadedSpec) -> DiscoveredSpace:
    _grow_gpu_memory()
    import keras
    import keras_tuner

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sweeper-kerastuner-") as folder:
        try:
            tuner = keras_tuner.RandomSearch(hypermodel, objective="val_loss", max_trials=1,
                                             directory=folder, project_name="discovery",
                                             overwrite=True)
            builds = _CountedBuilds(tuner.hypermodel.build)
            tuner.hypermodel.build = builds  # this tuner's own hypermodel object
            notes += _explore(tuner, builds)
            if overrides_fit(tuner.hypermodel):
                notes += _declare_fit_hps(tuner, loaded, name)
            notes.append(f"discovery: KerasTuner's constructor, then {builds.count} more "
                         f"build(s) in {builds.seconds:.1f} s (at most {EXPLORE_BUILDS}, none "
                         f"started after {EXPLORE_SECONDS:g} s)")
            space = tuner.oracle.get_space().space
        except SpecError:
            raise
        except Exception as exc:
            raise problem(loaded, (
                f"KerasTuner's discovery of {name}'s space failed: build(hp) with the "
                f"hyperparameters' defaults raised {type(exc).__name__}: {exc}"
                + where(exc))) from None
        finally:
            keras.backend.clear_session()  # the discovery's models
    mapped = entries(space)
    if mapped.refused:
        raise SpecError([loaded.problem(_WHERE, f"model.kind: {name}: {why}")
                         for why in mapped.refused])
    return DiscoveredSpace(mapped.entries, mapped.defaults, tuple(notes + mapped.notes),
                           source=f"KerasTuner {version('keras-tuner')}: build(hp) of {name}")


def overrides_fit(hypermodel: Any) -> bool:
    import keras_tuner

    return isinstance(hypermodel, keras_tuner.HyperModel) and \
        type(hypermodel).fit is not keras_tuner.HyperModel.fit


def _names(hp: Any) -> list[str]:
    return list(dict.fromkeys(p.name for p in hp.space))


def _largest(hp: Any) -> Any:
    kind = type(hp).__name__
    if kind == "Int":
        if hp.step and hp.sampling == "linear":
            return hp.min_value + (hp.max_value - hp.min_value) // hp.step * hp.step
        return hp.max_value
    if kind == "Boolean":
        return True
    if kind == "Choice":
        return list(hp.values)[-1]
    return None


def _points(space: Any) -> list[dict[str, Any]]:
    """Values to build with: every hp at its largest at once, then each choice's every
    value and each Int's largest, one at a time (the others at their defaults)."""
    largest = {p.name: _largest(p) for p in space.space if _largest(p) is not None}
    points = [largest]
    for p in space.space:
        kind = type(p).__name__
        values = list(p.values) if kind in ("Choice", "Boolean") else \
            [largest[p.name]] if p.name in largest else []
        points += [{p.name: v} for v in values if v != p.default]
    return points


def _explore(tuner: Any, builds: _CountedBuilds) -> list[str]:
    """Builds with other values than the defaults until no new hp shows (KerasTuner adds
    such hps as its own trials meet them; sweeper samples before any trial builds)."""
    oracle, hypermodel = tuner.oracle, tuner.hypermodel
    initial = _names(oracle.get_space())
    tried: set[str] = set()
    while builds.left:
        before = _names(oracle.get_space())
        for point in _points(oracle.get_space()):
            key = repr(sorted(point.items(), key=str))
            if key in tried or not builds.left:
                continue
            tried.add(key)
            hp = oracle.get_space()
            hp.values.update(point)
            for p in hp.space:  # parents come first: their values decide what is active
                if hp.is_active(p):
                    hp.values.setdefault(p.name, p.default)
                else:
                    hp.values.pop(p.name, None)
            try:
                hypermodel.build(hp)
            except Exception:
                continue  # e.g. too deep for the input: these values cannot be built
            oracle.update_space(hp)
        with contextlib.suppress(Exception):
            tuner._activate_all_conditions()  # KerasTuner's own pass over new scopes
        if _names(oracle.get_space()) == before:
            break
    found = [n for n in _names(oracle.get_space()) if n not in initial]
    if not found:
        return []
    return [f"{', '.join(found)}: declared by build(hp) only for other values than the "
            "defaults; found by building with each hp's largest value and each choice"]


class _StandIn:
    """The model an overridden ``HyperModel.fit`` gets while its hps are discovered: the
    built model in every attribute, except that ``fit`` trains nothing."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        import keras

        history = keras.callbacks.History()
        history.history = {}
        return history


def _declare_fit_hps(tuner: Any, loaded: LoadedSpec, name: str) -> list[str]:
    """Call the overridden ``fit`` once, with the defaults, on two blank images and a
    stand-in model (its ``fit`` trains nothing), so the hps it declares join the space.
    Errors after that are ignored (the hps it declared before it failed are what counts),
    but one every trial would raise: a ``fit`` that sets an argument sweeper passes."""
    hp = tuner.oracle.get_space()
    before = set(_names(hp))
    model = tuner.hypermodel.build(hp)
    try:
        shape = tuple(d or 8 for d in model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        shape = (8, 8, 1)
    x, y = np.zeros((2, *shape), np.float32), np.zeros((2,), np.int64)
    try:
        tuner.hypermodel.fit(hp, _StandIn(model), x, y, validation_data=(x, y), epochs=1,
                             initial_epoch=0, callbacks=[], verbose=0)
    except TypeError as exc:
        if "multiple values for keyword argument" in str(exc):
            raise problem(loaded, (
                f"{name}'s fit(hp, model, ...) passes an argument sweeper passes itself "
                f"({exc}); epochs, initial_epoch, callbacks, validation_data and verbose come "
                "from the sweep: leave them to its **kwargs") + where(exc)) from None
    except Exception:  # the hps declared before it failed count
        pass
    tuner.oracle.update_space(hp)
    added = [n for n in _names(hp) if n not in before]
    return [f"{', '.join(added)}: declared by the HyperModel's fit(hp, model, ...)"] \
        if added else []
