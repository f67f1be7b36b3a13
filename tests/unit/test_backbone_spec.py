"""keras.applications backbones as model kinds, checked and counted without TensorFlow."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sweeper import config as spec_module
from sweeper.config.loaded import LoadedSpec
from sweeper.errors import SpecError
from sweeper.models.backbones.catalog import BACKBONES, network_size, variant, variants
from sweeper.models.backbones.counts import COUNTS, KERAS_VERSION
from sweeper.models.backbones.kind import CAFFE_INPUT_PARAMS, BackboneKind
from sweeper.models.inputs import InputInfo
from sweeper.models.kinds import check_spec, resolve_kind
from tests.events import PATIENCE_S


def load(text: str, base_dir: Path | None = None) -> LoadedSpec:
    return spec_module.loads(textwrap.dedent(text), file="space.yaml", base_dir=base_dir,
                             checks=(check_spec,))


def problems(text: str, base_dir: Path | None = None) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load(text, base_dir)
    return [str(p) for p in caught.value.problems]


def test_the_issue_names_are_kinds_and_an_unknown_name_suggests_one() -> None:
    for name in ("resnet50v2", "mobilenet_v2", "efficientnet_b0", "inception_v3", "xception",
                 "densenet121", "vgg16", "nasnetmobile", "mobilenet_v3_small"):
        assert isinstance(resolve_kind(load(f"model: {{kind: {name}}}\n")), BackboneKind)
    [message] = problems("model: {kind: mobilenetv2}\n")
    assert message.startswith("space.yaml:1:")
    assert "did you mean 'mobilenet_v2'?" in message
    assert "efficientnet_b0" in message and "'cnn'" in message  # the list names them all
    assert "did you mean 'resnet50v2'" in problems("model: {kind: resnet50_v2}\n")[0]


def test_alpha_is_refused_where_the_network_has_none_and_checked_where_it_has() -> None:
    [message] = problems("""\
        model: {kind: resnet50v2}
        space:
          alpha: 0.35
        """)
    assert message.startswith("space.yaml:3:3: space.alpha: resnet50v2 has no alpha")
    assert "mobilenet_v2" in message
    [message] = problems("""\
        model: {kind: mobilenet_v2}
        space:
          alpha: {choice: [0.35, 0.3]}
        """)
    assert message.startswith("space.yaml:3:")
    assert "expected one of 0.35, 0.5, 0.75, 1.0, 1.3, 1.4, got 0.3" in message
    [message] = problems("""\
        model: {kind: mobilenet}
        space:
          alpha: {float: [0.25, 1.0]}
        """)
    assert "a numeric range does not fit, use {choice: [...]}" in message
    assert "minimalistic" in problems("model: {kind: mobilenet_v2}\n"
                                      "space: {minimalistic: true}\n")[0]
    load("model: {kind: mobilenet_v3_small}\nspace: {minimalistic: true, alpha: 1.0}\n")


def test_unknown_names_and_the_objective_are_located() -> None:
    [message] = problems("""\
        model: {kind: efficientnet_b0}
        space:
          dropuot: 0.3
        """)
    assert message.startswith("space.yaml:3:3: space.dropuot: the keras.applications backbone "
                              "efficientnet_b0 has no parameter 'dropuot'; did you mean "
                              "'dropout'?")
    assert "the CNN's" not in message and "depth" not in problems(
        "model: {kind: vgg16}\nspace: {depth: 3}\n")[0].split("known: ")[1]
    [message] = problems("model: {kind: vgg16}\nobjective: {metric: val_acc}\n")
    assert "vgg16 backbone logs val_accuracy" in message


def test_trainable_layers_needs_weights_and_weights_a_file(tmp_path: Path) -> None:
    [message] = problems("model: {kind: mobilenet_v2}\nspace: {trainable_layers: 3}\n")
    assert "space.trainable_layers: fine-tuning needs model.weights" in message
    [message] = problems("model: {kind: mobilenet_v2, weights: nothing/here.weights.h5}\n",
                         base_dir=tmp_path)
    assert message.startswith("space.yaml:1:")
    assert f"model.weights: no file {tmp_path / 'nothing/here.weights.h5'}" in message
    assert "expected a Keras weights file" in problems(
        "model: {kind: mobilenet_v2, weights: w.npz}\n", base_dir=tmp_path)[0]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.weights.h5").write_bytes(b"")  # validate checks it exists only
    loaded = load("model: {kind: mobilenet_v2, weights: sub/w.weights.h5}\n"
                  "space: {trainable_layers: {int: [0, 10]}}\n", base_dir=tmp_path)
    kind = resolve_kind(loaded)
    assert isinstance(kind, BackboneKind)
    assert kind.weights == str((tmp_path / "sub" / "w.weights.h5").resolve())
    assert kind.defaults()["trainable_layers"] is None  # null: every layer trains
    most = max(c.weighted_layers for c in COUNTS["mobilenet_v2"].values())
    [message] = problems(f"model: {{kind: mobilenet_v2, weights: sub/w.weights.h5}}\n"
                         f"space: {{trainable_layers: {most + 1}}}\n", base_dir=tmp_path)
    assert f"expected a int in [0, {most}]" in message
    other = resolve_kind(load("model: {kind: mobilenet_v2}\n", base_dir=tmp_path))
    assert isinstance(other, BackboneKind) and other.weights is None  # not the cached one


@pytest.mark.parametrize("kind", ["cnn", "mypackage.models:build"])
def test_weights_apply_to_backbones_only(kind: str, tmp_path: Path) -> None:
    (tmp_path / "w.h5").write_bytes(b"")
    [message] = problems(f"model: {{kind: '{kind}', weights: w.h5}}\n", base_dir=tmp_path)
    assert "model.weights applies to keras.applications backbones only" in message
    with pytest.raises(SpecError, match="backbones only"):
        resolve_kind(spec_module.loads(f"model: {{kind: '{kind}', weights: w.h5}}\n",
                                       base_dir=tmp_path))


def info(size: int = 32, channels: int = 3, classes: int = 10) -> InputInfo:
    return InputInfo((size, size), channels, classes)


def test_describe_counts_the_table_and_the_head() -> None:
    kind = BackboneKind("mobilenet_v2")
    count = COUNTS["mobilenet_v2"]["alpha=0.35"]
    head = count.features * 10 + 10
    assert kind.describe({}, info()).param_count == count.params + head
    assert kind.describe({"dense_units": 64}, info()).param_count == (
        count.params + count.features * 64 + 64 + 64 * 10 + 10)
    gray = kind.describe({"alpha": 1.0}, info(channels=1)).param_count
    wide = COUNTS["mobilenet_v2"]["alpha=1.0"]
    assert gray == wide.params - 2 * wide.per_channel + wide.features * 10 + 10
    # with weights the network takes 3 channels (gray is repeated), whatever the data has
    pretrained = BackboneKind("mobilenet_v2", weights="/w.weights.h5")
    assert pretrained.describe({}, info(channels=1)).param_count == count.params + head
    caffe = BackboneKind("resnet50", weights="/w.h5")
    resnet = COUNTS["resnet50"][""]
    assert caffe.describe({}, info()).param_count == (
        resnet.params + CAFFE_INPUT_PARAMS + resnet.features * 10 + 10)
    assert "1- or 3-channel" in str(pretrained.describe({}, info(channels=4)).infeasible)
    assert kind.describe({}, info()).flops is None  # measured once built


def test_minimum_sizes_are_keras_own_and_small_images_are_resized_up() -> None:
    assert BACKBONES["inception_v3"].min_size == 75
    assert BACKBONES["inception_resnet_v2"].min_size == 75
    assert BACKBONES["xception"].min_size == 71
    assert {n.min_size for n in BACKBONES.values()} == {32, 71, 75}
    assert network_size(BACKBONES["inception_v3"], (32, 32)) == (75, 75)
    assert network_size(BACKBONES["inception_v3"], (28, 100)) == (75, 100)
    assert network_size(BACKBONES["resnet50v2"], (32, 32)) == (32, 32)


def test_the_table_covers_every_variant_of_the_installed_keras() -> None:
    for network in BACKBONES.values():
        assert sorted(COUNTS[network.name]) == sorted(variant(network, v)
                                                      for v in variants(network))
    assert set(COUNTS) == set(BACKBONES)
    installed = importlib.metadata.version("keras")
    assert installed.split(".")[:2] == KERAS_VERSION.split(".")[:2], (
        "Keras changed: run tools/backbone_counts.py to measure the backbones again")


def test_defaults_take_only_the_networks_own_knobs() -> None:
    mobile = BackboneKind("mobilenet_v2").defaults()
    assert mobile["alpha"] == 0.35 and mobile["optimizer"] == "adam"
    assert mobile["learning_rate"] == 1.0e-3 and mobile["batch_size"] == 64
    assert mobile["dropout"] == 0.2 and mobile["dense_units"] == 0
    assert "trainable_layers" not in mobile and "minimalistic" not in mobile
    assert "alpha" not in BackboneKind("resnet50v2").defaults()
    assert BackboneKind("mobilenet_v3_large").defaults()["minimalistic"] is False


def test_validate_counts_a_backbone_without_tensorflow(tmp_path: Path) -> None:
    path = tmp_path / "backbone.yaml"
    path.write_text("data: {source: digits}\nmodel: {kind: inception_v3}\n"
                    "space: {learning_rate: {float: [1.0e-4, 1.0e-2], log: true},"
                    " dense_units: {choice: [0, 64]}}\n")
    script = ("import sys\nfrom sweeper.cli import main\n"
              f"code = main(['validate', {str(path)!r}])\n"
              "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
              "assert code == 0 and not loaded, (code, loaded)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=PATIENCE_S)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "infeasible architectures: 0 of" in result.stdout
