"""KerasTuner hypermodels: the space discovered from build(hp) by KerasTuner's own code, the
file's entries that fix or narrow it, the worker's build(hp) and fit(hp, ...), the labels.

Each case writes its hypermodel as a module beside its file (a unique module name: a
process imports a module once) and loads the file as `sweeper validate` does.
"""

from __future__ import annotations

import pickle
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sweeper.api import load_spec
from sweeper.cli import main
from sweeper.config import loads
from sweeper.config.loaded import LoadedSpec
from sweeper.config.params import ChoiceParam, FixedParam, IntParam
from sweeper.data.pipeline import encode_labels, pipeline
from sweeper.errors import SpecError
from sweeper.models.inputs import InputInfo
from sweeper.models.kinds import fitter, resolve_kind
from sweeper.models.labels import wants_one_hot
from sweeper.search.start import start_points
from sweeper.store.specs import recorded_discovery, write_discovery

keras = pytest.importorskip("keras")
keras_tuner = pytest.importorskip("keras_tuner")

EVERY_TYPE = '''
import keras

def build(hp):
    hp.Int("blocks", 1, 9, step=2)            # step kept
    hp.Int("units", 1, 10, step=3)            # 1, 4, 7, 10
    hp.Int("cut", 1, 9, step=3)               # 1, 4, 7: ends below max_value
    hp.Int("depth", 1, 5)                     # step 1: the default
    hp.Int("width", 32, 512, step=2, sampling="log")  # 32, 64, ..., 512
    hp.Int("span", 1, 100, sampling="log")
    hp.Float("lr", 1e-4, 1e-1, sampling="log", default=1e-3)
    hp.Float("decay", 0.1, 1.0, sampling="reverse_log")
    hp.Float("dropout", 0.0, 0.5, step=0.1)
    hp.Float("scale", 0.0, 1.0)
    hp.Choice("optimizer", ["adam", "sgd"], default="sgd")
    hp.Boolean("batch_norm")
    hp.Fixed("classes", 10)
    with hp.conditional_scope("optimizer", ["sgd"]):
        hp.Float("momentum", 0.0, 0.9)
    hp.Choice("nesterov", [True, False], parent_name="optimizer", parent_values=["sgd"])
    hp.Int("stages", 1, 3)                    # the parent of a condition: a choice
    with hp.conditional_scope("stages", [2, 3]):
        hp.Int("stage_width", 4, 8, step=4)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''

HEADER = "data: {source: digits}\nmodel: {kind: '%s'}\n"


def write(folder: Path, module: str, code: str, body: str = "", attr: str = "build") -> Path:
    (folder / f"{module}.py").write_text(textwrap.dedent(code))
    path = folder / "space.yaml"
    path.write_text(HEADER % f"{module}:{attr}" + textwrap.dedent(body))
    return path


def loaded_of(folder: Path, module: str, code: str, body: str = "",
              attr: str = "build") -> LoadedSpec:
    return load_spec(write(folder, module, code, body, attr))


def test_every_hp_type_and_option_becomes_its_entry(tmp_path: Path) -> None:
    loaded = loaded_of(tmp_path, "hp_every_type", EVERY_TYPE)
    assert loaded.discovered is not None
    assert loaded.discovered.entries == {
        "blocks": {"int": [1, 9], "step": 2},
        "units": {"int": [1, 10], "step": 3},
        "cut": {"int": [1, 7], "step": 3},
        "depth": {"int": [1, 5]},
        "width": {"choice": [32, 64, 128, 256, 512]},
        "span": {"int": [1, 100], "log": True},
        "lr": {"float": [1e-4, 0.1], "log": True},
        "decay": {"float": [0.1, 1.0], "log": True},
        "dropout": {"float": [0.0, 0.5], "step": 0.1},
        "scale": {"float": [0.0, 1.0]},
        "optimizer": {"choice": ["adam", "sgd"]},
        "batch_norm": {"choice": [False, True]},
        "classes": 10,
        "momentum": {"float": [0.0, 0.9], "when": {"optimizer": ["sgd"]}},
        "nesterov": {"choice": [True, False], "when": {"optimizer": ["sgd"]}},
        "stages": {"choice": [1, 2, 3]},
        "stage_width": {"int": [4, 8], "step": 4, "when": {"stages": [2, 3]}},
    }
    defaults = loaded.discovered.defaults
    assert (defaults["lr"], defaults["optimizer"], defaults["batch_norm"], defaults["blocks"]) \
        == (1e-3, "sgd", False, 1)
    notes = " | ".join(loaded.discovered.notes)
    assert "width: KerasTuner's log sampling with step 2 takes 32 * 2^k" in notes
    assert "decay: KerasTuner's reverse_log sampling is sampled as log" in notes
    assert "cut: step 3 from 1 ends at 7, below max_value 9" in notes
    space = loaded.spec.space  # the merged, validated space: what Optuna samples
    assert isinstance(space["classes"], FixedParam) and space["momentum"].when is not None
    # the sweep's first trial takes the code's defaults, as KerasTuner's first trial does
    kind = resolve_kind(loaded)
    first = start_points(loaded.spec, kind.defaults())[0]
    assert first["optimizer"] == "sgd" and first["lr"] == 1e-3 and first["units"] == 1


def test_peer_conditional_scopes_and_parent_name_become_when(tmp_path: Path) -> None:
    """KerasTuner's own test hypermodels (tests/kt_peer_models.py)."""
    path = tmp_path / "space.yaml"
    path.write_text(HEADER % "tests.kt_peer_models:ConditionalHyperModel")
    entries = load_spec(path).discovered.entries  # type: ignore[union-attr]
    assert entries["n_filters_b"] == {"int": [6, 8],
                                      "when": {"model_type": ["cnn"], "sub_cnn": ["b"]}}
    assert entries["n_units_a"]["when"] == {"model_type": ["mlp"], "sub_mlp": ["a"]}
    assert entries["new_block_hp"] == {"int": [1, 3], "when": {"more_block": [True]}}
    assert set(entries) == {"model_type", "sub_cnn", "n_filters_a", "n_filters_b", "sub_mlp",
                            "n_units_a", "n_units_b", "more_block", "new_block_hp"}
    path.write_text(HEADER % "tests.kt_peer_models:build_parent_arg")
    assert load_spec(path).discovered.entries == {  # type: ignore[union-attr]
        "parent": {"choice": [False, True]},
        "child": {"choice": [False, True], "when": {"parent": [False]}}}
    # hps build(hp) declares only for other values than the defaults (range(num_layers))
    path.write_text(HEADER % "tests.kt_peer_models:build_model")
    assert list(load_spec(path).spec.space) == [
        "num_layers", "units_0", "learning_rate", "units_1", "units_2", "units_3"]


def test_file_entries_fix_and_narrow_and_settle_conditions(tmp_path: Path) -> None:
    loaded = loaded_of(tmp_path, "hp_narrowed", EVERY_TYPE, """\
        space:
          optimizer: sgd                   # fixed: momentum's condition always holds now
          blocks: {int: [3, 7], step: 4}   # inside [1, 9] on its step
          width: {choice: [64, 128]}
          lr: {float: [1.0e-3, 1.0e-2], log: true}
          classes: 12                      # hp.Fixed in code: any value
        """)
    space = loaded.spec.space
    assert isinstance(space["optimizer"], FixedParam) and space["optimizer"].value == "sgd"
    assert isinstance(space["blocks"], IntParam) and space["blocks"].range_ == (3, 7)
    assert isinstance(space["width"], ChoiceParam) and space["width"].choice == [64, 128]
    assert space["classes"].values == [12]
    assert space["momentum"].when is None and space["nesterov"].when is None
    assert list(space)[:3] == ["blocks", "units", "cut"]  # the code's order
    other = loaded_of(tmp_path, "hp_narrowed", EVERY_TYPE, "space:\n  optimizer: adam\n")
    assert "momentum" not in other.spec.space and "nesterov" not in other.spec.space


REFUSED = [
    ("  blocks: {int: [0, 5]}\n", "blocks", r"space.blocks: \[0, 5\] reaches outside the "
     r"hypermodel's int range \[1, 9\] step 2"),
    ("  blocks: {int: [3, 7]}\n", "blocks", r"steps by 2: add step: 2 \(or a multiple of it\)"),
    ("  optimizer: {choice: [adam, rmsprop]}\n", "optimizer",
     r"space.optimizer: 'rmsprop' is outside the hypermodel's choice of 'adam', 'sgd'"),
    ("  width: {int: [64, 128]}\n", "width", r"a range cannot narrow the hypermodel's choice"),
    ("  lr: 0.5\n", "lr", r"space.lr: 0.5 is outside the hypermodel's float range \[0.0001, "
     r"0.1\] log \(expected a value in"),
    ("  depth: {float: [1.0, 2.0]}\n", "depth", r"is an int range; write \{int: \[low, high\]\}"),
    ("  momentm: 0.5\n", "momentm", r"space.momentm: not a hyperparameter of the hypermodel "
     r"\(a hypermodel's space is what its build\(hp\) declares: blocks, units, .*did you mean "
     r"'momentum'\?"),
    ("  momentum: {float: [0.1, 0.5], when: {optimizer: adam}}\n", "when",
     r"space.momentum.when: the hypermodel's conditions decide when 'momentum' applies "
     r"\(optimizer in \['sgd'\]: its conditional_scope or parent_name\); remove 'when'"),
]


@pytest.mark.parametrize("entry, at, message", REFUSED, ids=[r[1] + str(i)
                                                              for i, r in enumerate(REFUSED)])
def test_entries_outside_the_code_are_refused_with_their_line(
        entry: str, at: str, message: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "hp_refused", EVERY_TYPE, "budget: {trials: 2}\nspace:\n" + entry)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if at in text)
    located = re.search(rf"^{re.escape(str(path))}:{line}:\d+: (.*)$", err, re.M)
    assert located and re.search(message, located[1]), err


FIT_HPS = '''
import keras
import keras_tuner

class Tuned(keras_tuner.HyperModel):
    def build(self, hp):
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(hp.Int("units", 4, 8), activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, y, **kwargs):
        if hp.Boolean("normalize"):
            x = keras.layers.Normalization()(x)
        history = model.fit(x, y, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)
        return max(history.history["val_accuracy"])  # the stand-in has no history: ignored

class NeedsClasses(keras_tuner.HyperModel):
    def __init__(self, classes, name=None):
        super().__init__(name=name)
        self.classes = classes

    def build(self, hp):
        return None

hypermodel = Tuned()

class SetsEpochs(Tuned):
    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, epochs=hp.Int("epochs", 1, 3), **kwargs)

def broken(hp):
    hp.Int("units", 1, 2)
    raise ValueError("no such layer")

def uncompiled(hp):
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(hp.Int("units", 4, 8))])
'''


def test_overridden_fit_declares_hps_and_runs_with_the_trials_values(tmp_path: Path) -> None:
    loaded = loaded_of(tmp_path, "hp_fit", FIT_HPS, attr="Tuned")
    assert loaded.discovered is not None
    assert loaded.discovered.entries == {"units": {"int": [4, 8]},
                                         "normalize": {"choice": [False, True]},
                                         "batch_size": {"choice": [16, 32]}}
    assert any("normalize, batch_size: declared by the HyperModel's fit" in note
               for note in loaded.discovered.notes)
    instance = loaded_of(tmp_path, "hp_fit", FIT_HPS, attr="hypermodel")  # an instance
    assert instance.discovered is not None
    assert instance.discovered.entries == loaded.discovered.entries
    kind = pickle.loads(pickle.dumps(resolve_kind(loaded)))  # as a worker gets it
    params = {"units": 7, "normalize": False, "batch_size": 32}
    model = kind.build(params, InputInfo((8, 8), 1, 10))
    assert model.layers[1].units == 7 and wants_one_hot(model)
    fit = fitter(kind, params)
    assert fit is not None
    x = np.zeros((64, 8, 8, 1), np.float32)
    y = encode_labels(np.arange(64) % 10, 10)
    seen: list[dict[str, Any]] = []

    class Steps(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            seen.append(dict(self.params))

    fit(model, x, y, validation_data=(x, y), epochs=1, initial_epoch=0, callbacks=[Steps()],
        verbose=0)
    assert seen[0]["steps"] == 2  # 64 images at the trial's batch_size 32


def test_the_recorded_space_loads_back_without_the_model(tmp_path: Path) -> None:
    """What resume, export, results and doctor read: the space recorded at the start."""
    loaded = loaded_of(tmp_path, "hp_recorded", EVERY_TYPE, "space:\n  optimizer: adam\n")
    write_discovery(tmp_path, loaded.discovered)
    hook = recorded_discovery(tmp_path)
    assert hook is not None and hook(loaded) == loaded.discovered
    again = loads(Path(loaded.doc.file).read_text(), file=loaded.doc.file,
                  base_dir=tmp_path, discover=hook)
    assert again.spec.space == loaded.spec.space
    write_discovery(tmp_path, None)
    assert recorded_discovery(tmp_path) is None


def test_hypermodels_that_cannot_run_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"space.yaml:2:15: model.kind: hp_bad:NeedsClasses is "
                       r"a keras_tuner.HyperModel whose __init__ needs classes; sweeper creates "
                       r"it with no arguments: give it a default, or name an instance"):
        loaded_of(tmp_path, "hp_bad", FIT_HPS, attr="NeedsClasses")
    path = tmp_path / "space.yaml"
    path.write_text(HEADER % "tests.kt_peer_models:build_same_name_two_ranges")
    with pytest.raises(SpecError, match=r"'layers' is declared 2 times with different "
                       r"definitions \(model in \['v1'\]: Int \[1, 3\]; model in \['v2'\]: Int "
                       r"\[2, 4\]\); a sweeper space holds one definition per name"):
        load_spec(path)
    with pytest.raises(SpecError, match=r"space.yaml:2:15: model.kind: KerasTuner's discovery "
                       r"of hp_bad:broken's space failed: build\(hp\) with the hyperparameters' "
                       r"defaults raised ValueError: no such layer \(.*hp_bad.py:\d+\)"):
        loaded_of(tmp_path, "hp_bad", FIT_HPS, attr="broken")
    with pytest.raises(SpecError, match=r"model.kind: hp_bad:SetsEpochs's fit\(hp, model, "
                       r"...\) passes an argument sweeper passes itself .*multiple values for "
                       r"keyword argument 'epochs'.*leave them to its \*\*kwargs"):
        loaded_of(tmp_path, "hp_bad", FIT_HPS, attr="SetsEpochs")  # refused before any trial
    loaded = loaded_of(tmp_path, "hp_bad", FIT_HPS, attr="uncompiled")
    with pytest.raises(TypeError, match="not compiled; a KerasTuner hypermodel compiles"):
        resolve_kind(loaded).build({"units": 4}, InputInfo((8, 8), 1, 10))
    assert fitter(resolve_kind(loaded), {"units": 4}) is None  # a function has no fit


def test_labels_follow_the_models_loss() -> None:
    def compiled(loss: Any) -> Any:
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile("adam", loss)
        return model

    for one_hot in ("categorical_crossentropy", keras.losses.categorical_crossentropy,
                    keras.losses.CategoricalCrossentropy(), ["categorical_crossentropy"],
                    "mse", "kl_divergence", keras.losses.CategoricalHinge()):
        assert wants_one_hot(compiled(one_hot)), one_hot  # a vector as wide as the output
    for sparse in ("sparse_categorical_crossentropy", keras.losses.SparseCategoricalCrossentropy(),
                   keras.losses.sparse_categorical_crossentropy):
        assert not wants_one_hot(compiled(sparse)), sparse
    one_unit = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, "sigmoid")])
    one_unit.compile("adam", "binary_crossentropy")
    assert not wants_one_hot(one_unit)  # two classes as 0/1
    assert wants_one_hot(type("M", (), {"loss": {"out": "CategoricalCrossentropy"}})())
    y = np.array([0, 2, 1])
    assert encode_labels(y, None) is y
    assert encode_labels(y, 3).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    x = np.zeros((3, 2, 2, 1), np.uint8)
    _, labels = next(iter(pipeline(x, y, 3, training=False, seed=0, one_hot=3)))
    assert labels.numpy().tolist() == encode_labels(y, 3).tolist()


def test_a_function_is_a_hypermodel_when_it_needs_one_argument() -> None:
    from sweeper.models.hypermodel import hypermodel_form

    def build_model(hp: Any, extra: Any = None) -> None: ...
    def builder(params: Any, input_shape: Any, num_classes: Any) -> None: ...
    def two(hp: Any, other: Any) -> None: ...

    assert hypermodel_form(build_model) == "function"  # KerasTuner calls it as build(hp)
    assert hypermodel_form(builder) is None and hypermodel_form(two) is None
